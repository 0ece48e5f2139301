#!/bin/sh
# Builds the Go load client into bench/.cache/load-client-go. Modules are downloaded through the Go module
# proxy (GOPROXY) at build time and checked against go.sum; nothing is vendored.
# fanout.ts runs the same build automatically when the binary is missing or older than its sources.
set -eu
cd "$(dirname "$0")"
mkdir -p ../.cache
case "${GOFLAGS:-}" in *-mod=*) ;; *) GOFLAGS="${GOFLAGS:-} -mod=mod" ;; esac
export GOFLAGS
exec go build -o ../.cache/load-client-go .
