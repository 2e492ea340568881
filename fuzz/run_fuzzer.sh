#!/usr/bin/env bash
# run_fuzzer.sh FUZZER SEED_CORPUS SECONDS: runs a libFuzzer target for a bounded time on a
# scratch copy of its seed corpus, so the committed corpus never changes. Exits non-zero on
# any crash, leak, timeout or sanitizer report (libFuzzer's own exit status).
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
out=$(pwd)  # Reproducers land here (the build tree) and survive the scratch directory.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/"
cd "$work"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$out/" corpus 2>fuzz.log || {
  tail -n 60 fuzz.log
  echo "fuzzer failed; reproducers (if any) are in $out"
  exit 1
}
grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' fuzz.log || true
