#!/bin/sh
# Builds the Istio-API certificate client into .cache/certs-istio-client at the repository root. Modules come
# through the Go module proxy at build time, checked against go.sum; nothing is vendored.
set -eu
cd "$(dirname "$0")"
mkdir -p ../../../.cache
case "${GOFLAGS:-}" in *-mod=*) ;; *) GOFLAGS="${GOFLAGS:-} -mod=mod" ;; esac
export GOFLAGS
exec go build -o ../../../.cache/certs-istio-client .
