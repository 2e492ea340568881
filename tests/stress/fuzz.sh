#!/usr/bin/env bash
# tests/stress/fuzz.sh [SECONDS] [TARGET...]: builds the libFuzzer targets (clang, ASan +
# UBSan) and runs each for SECONDS (default 1800) from a random seed, to look for findings
# that the test command's fixed-seed runs do not reach. Prints each target's executions and
# peak memory; exits non-zero on the first finding, whose input is kept in build/fuzz.
# Not part of the test command: it takes SECONDS per target. FUZZ_ASAN=0 builds without
# AddressSanitizer (UBSan and libFuzzer's checks only) in build/fuzz-ub: about 2.5 times the
# inputs per second, for the long runs of 10 M inputs and more.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
seconds=${1:-1800}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(proto_decode server_core client_core server_config stream_table)
ensure_packages clang
dir=build/fuzz asan=ON
if [ "${FUZZ_ASAN:-1}" = 0 ]; then dir=build/fuzz-ub asan=OFF; fi
CC=clang CXX=clang++ BUILD_TARGETS="${targets[*]/#/fuzz_}" build $dir \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTURNSCOUT_FUZZ=ON -DTURNSCOUT_FUZZ_ASAN=$asan \
  -DTURNSCOUT_TESTS=OFF
cd $dir
for target in "${targets[@]}"; do
  log "fuzz_$target for $seconds s"
  ../../fuzz/run_fuzzer.sh "$PWD/fuzz/fuzz_$target" "../../fuzz/corpus/$target" "seconds=$seconds"
done
