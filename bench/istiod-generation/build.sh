#!/bin/sh
# Builds the istiod generation timer (main.go) into .cache/istiod-generation at the repository root. Modules
# come through the Go module proxy, checked against go.sum; nothing is vendored. The first build compiles most
# of istio.io/istio (about ten minutes on two cores); later builds, and builds after test/istiod-oracle's
# (same istio.io/istio version), reuse Go's build cache. A GOTOOLCHAIN in the environment is passed on to go.
set -eu
cd "$(dirname "$0")"
mkdir -p ../../.cache
case "${GOFLAGS:-}" in *-mod=*) ;; *) GOFLAGS="${GOFLAGS:-} -mod=mod" ;; esac
GOFLAGS="$GOFLAGS -p=1"
export GOFLAGS
exec nice -n 10 go build -o ../../.cache/istiod-generation .
