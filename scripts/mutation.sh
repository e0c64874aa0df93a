#!/usr/bin/env bash
# Mutation testing of the pure core with cosmic-ray: every mutant of each area runs that
# area's fast tests; a mutant no test fails on "survives". cosmic-ray mutates files in
# place, so this runs in a throwaway copy of the tree (tracked files, as they are now).
# Usage: scripts/mutation.sh [AREA...]   (default: every area; `make mutation`)
# Reports: test-artifacts/mutation/<area>.txt (survivors with their diffs) and a summary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python="$root/.venv/bin/python"
out="$root/test-artifacts/mutation"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && git ls-files -z | xargs -0 cp --parents -t "$work")
ln -s "$root/.venv" "$work/.venv"  # protoc and friends, for the tests that use them

# area | modules to mutate | tests that guard them
areas=(
  "domain|domain|tests/unit/test_room.py tests/unit/test_handler.py tests/unit/test_codec.py tests/unit/test_commands_codec.py tests/unit/test_live_records.py"
  "projector|projections/projector.py|tests/unit/test_projector.py tests/unit/test_batch.py tests/unit/test_checker.py tests/contract/test_projection_store.py"
  "session|api/session.py|tests/unit/test_session.py"
  "recovery|api/recovery.py|tests/unit/test_recovery.py"
)
wanted=("$@")

cd "$work"
summary="$out/summary.txt"
: >"$summary"
for spec in "${areas[@]}"; do
  IFS='|' read -r area modules tests <<<"$spec"
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " $area " ]]; then continue; fi
  cat >"$area.toml" <<TOML
[cosmic-ray]
module-path = "$modules"
timeout = 120.0
excluded-modules = []
# python -m: this copy's modules come first on sys.path (not the editable install's).
test-command = "$python -m pytest -x -q -p no:cacheprovider -k 'not cassandra' $tests"

[cosmic-ray.distributor]
name = "local"
TOML
  rm -f "$area.sqlite"
  # Unmutated, the tests must pass: otherwise every mutant would count as killed.
  if ! (eval "$python -m pytest -x -q -p no:cacheprovider -k 'not cassandra' $tests" >"$area.baseline" 2>&1); then
    echo "$area: the tests fail without any mutation:" >&2
    tail -n 20 "$area.baseline" >&2
    exit 1
  fi
  "$root/.venv/bin/cosmic-ray" init "$area.toml" "$area.sqlite"
  "$root/.venv/bin/cosmic-ray" exec "$area.toml" "$area.sqlite"
  "$root/.venv/bin/cr-report" --show-diff --surviving-only "$area.sqlite" >"$out/$area.txt" || true
  echo "$area: $(tail -n 3 "$out/$area.txt" | tr '\n' ' ')" | tee -a "$summary"
done
cat "$summary"
