#!/usr/bin/env bash
# The README's example, run as written: the fenced block after the "readme-example" marker,
# in a scratch directory holding a copy of configs/ and, as build/release, the build under
# test. It must find the coturn the block starts and verify it. Every process the block
# starts in the background is stopped by its PID, whatever happens.
#
# usage: tests/readme_example.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
bin=$(cd "$2" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

block=$(awk '/<!-- readme-example/ { marked = 1; next }
             marked && /^```sh/ { inside = 1; next }
             inside && /^```/ { exit }
             inside { print }' "$src/README.md")
if [[ -z $block ]]; then
  echo "readme_example: no block after the readme-example marker in README.md" >&2
  exit 1
fi
mkdir -p "$scratch/build"
ln -s "$bin" "$scratch/build/release"
cp -r "$src/configs" "$scratch/configs"
rm -f "$scratch"/configs/*.key

{
  echo 'trap "exit 143" TERM'
  echo 'trap "jobs -p > pids.txt; kill \$(jobs -p) 2>/dev/null; wait" EXIT'
  echo "$block"
} > "$scratch/run.sh"
status=0
(cd "$scratch" && timeout 90 bash run.sh > out.txt 2>&1) || status=$?
cat "$scratch/out.txt"
for f in root region leaf; do
  echo "--- $f.log (last lines)"
  tail -n 5 "$scratch/$f.log" 2>/dev/null || true
done

fail() {
  echo "readme_example: $*" >&2
  exit 1
}
((status == 0)) || fail "the block exited with $status"
grep -qF 'TURN       turn:127.0.0.1:3478?transport=udp  (verified: STUN Binding answered' \
  "$scratch/out.txt" || fail "the probe did not print the verified coturn"
grep -qF '"ok": true' "$scratch/out.txt" || fail "probe --json did not say ok"
grep -qE '^node +root ' "$scratch/out.txt" || fail "stats did not name the root"
[[ -s $scratch/pids.txt ]] || fail "the block started no process in the background"
while read -r pid; do
  if kill -0 "$pid" 2> /dev/null; then fail "process $pid of the example outlived it"; fi
done < "$scratch/pids.txt"
echo "readme_example: the README's example works as written"
