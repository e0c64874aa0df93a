#!/usr/bin/env bash
# Prometheus, built once from source with `go install` (the Go module proxy is reachable here,
# GitHub releases are not) into ~/.cache/tidings/prometheus-VERSION/prometheus. The service
# discovery plugins are left out (build tag remove_all_sd): a static scrape config is all the
# dashboard check (tests/e2e/test_dashboard.py) needs, and they are most of the build.
# Usage: infra/prometheus.sh build|path
source "$(dirname "$0")/common.sh"
VERSION=v0.316.0  # Prometheus 3.x's Go module version
BIN="$CACHE/prometheus-$VERSION"

build() {
  if [ -x "$BIN/prometheus" ]; then return; fi
  echo "building Prometheus $VERSION with go install into $BIN" >&2
  GOBIN="$BIN" GOFLAGS=-mod=mod go install -tags remove_all_sd \
    "github.com/prometheus/prometheus/cmd/prometheus@$VERSION" >&2
}

case "${1:-build}" in
  build) build ;;
  path) build; echo "$BIN/prometheus" ;;
  *) echo "usage: $0 build|path" >&2; exit 2 ;;
esac
