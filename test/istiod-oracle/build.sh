#!/bin/sh
# Builds istiod's recording program (a Go test binary: Istio's fake discovery server and traffic simulation
# take a *testing.T) into .cache/istiod-oracle.test at the repository root. Modules come through the Go
# module proxy, checked against go.sum; nothing is vendored. The first build compiles most of istio.io/istio
# (about ten minutes on two cores); later builds reuse Go's build cache. A GOTOOLCHAIN in the environment is
# passed on to go.
set -eu
cd "$(dirname "$0")"
mkdir -p ../../.cache
case "${GOFLAGS:-}" in *-mod=*) ;; *) GOFLAGS="${GOFLAGS:-} -mod=mod" ;; esac
GOFLAGS="$GOFLAGS -p=1"
export GOFLAGS
exec nice -n 10 go test -c -o ../../.cache/istiod-oracle.test .
