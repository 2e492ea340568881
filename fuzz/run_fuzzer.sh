#!/usr/bin/env bash
# run_fuzzer.sh FUZZER SEED_CORPUS LIMIT: runs a libFuzzer target on a scratch copy of its
# seed corpus, so the committed corpus never changes. LIMIT is either
#   runs=N     N inputs from the fixed seed 1: the same inputs on every run, so the test
#              command passes or fails the same way each time (what ctest runs);
#   seconds=N  N seconds from a random seed, to look for new findings (tests/stress/fuzz.sh).
# Exits non-zero on any crash, leak, timeout, broken promise or sanitizer report (libFuzzer's
# own exit status); the input that did it is kept in the current directory.
set -euo pipefail
fuzzer=$1 seeds=$2 limit=$3
# Fixed inputs also need a fixed address layout (the coverage of some paths depends on
# addresses) and no rereading of the corpus folder, which libFuzzer does on a timer.
fixed=()
case $limit in
  runs=[0-9]*)
    flags=(-seed=1 -runs="${limit#runs=}" -reload=0)
    if setarch "$(uname -m)" -R true 2>/dev/null; then
      fixed=(setarch "$(uname -m)" -R)
    else
      echo "run_fuzzer.sh: cannot turn off address randomisation; the inputs may vary" >&2
    fi
    ;;
  seconds=[0-9]*) flags=(-max_total_time="${limit#seconds=}") ;;
  *)
    echo "run_fuzzer.sh: LIMIT must be runs=N or seconds=N, got '$limit'" >&2
    exit 2
    ;;
esac
out=$(pwd) # Reproducers land here (the build tree) and survive the scratch directory.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/"
cd "$work"
"${fixed[@]}" "$fuzzer" "${flags[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$out/" corpus 2>fuzz.log || {
  tail -n 60 fuzz.log
  echo "fuzzer failed; reproducers (if any) are in $out"
  exit 1
}
grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' \
  fuzz.log || true
