#!/bin/sh
# Builds istiod's CA and the Istio agent CA client load program into .cache/istiod-ca at the repository root.
# Modules come through the Go module proxy, checked against go.sum; nothing is vendored. istio.io/istio is
# pinned to the version test/istiod-oracle records against, so a machine that built the oracle reuses Go's
# build cache; a first build compiles a good part of istio.io/istio (several minutes on two cores).
set -eu
cd "$(dirname "$0")"
mkdir -p ../../.cache
case "${GOFLAGS:-}" in *-mod=*) ;; *) GOFLAGS="${GOFLAGS:-} -mod=mod" ;; esac
GOFLAGS="$GOFLAGS -p=1"
export GOFLAGS
exec nice -n 10 go build -o ../../.cache/istiod-ca .
