#!/usr/bin/env bash
# tests/stress/tsan.sh [CTEST_REGEX]: builds everything with ThreadSanitizer (clang) in
# build/tsan and runs the tests that start threads: the server's worker threads (in-process
# and in turnscout-server processes), the cluster runner's metrics poller, and the end-to-end
# trees. Every process, test or server, writes its reports to one folder, so a race in a
# child process fails the run too. Fails on any report or failed test.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
regex=${1:-'server_io|server_process|cluster|client_sdk_driver|e2e'}
ensure_packages clang coturn
# Only what those tests run: the benchmarks and the data-plane tests replace operator new
# to count allocations, which ThreadSanitizer's runtime defines too.
targets=(server_io_tests server_process_tests client_io_tests client_c_api_program cluster_tests
  cluster_process_tests e2e_tests e2e_coturn_tests e2e_failure_tests turnscout-server turnscout
  turnscout-impair)
BUILD_TARGETS="${targets[*]}" CC=clang CXX=clang++ build build/tsan \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTURNSCOUT_TSAN=ON
reports=$PWD/build/tsan/reports
rm -rf "$reports"
mkdir -p "$reports"
log "tests under ThreadSanitizer: $regex"
status=0
TSAN_OPTIONS="log_path=$reports/tsan second_deadlock_stack=1" \
  ctest --no-tests=error --test-dir build/tsan --output-on-failure -j "$(nproc)" -R "$regex" ||
  status=$?
shopt -s nullglob
found=("$reports"/tsan.*)
if [ ${#found[@]} -gt 0 ]; then
  echo "ThreadSanitizer reports (${#found[@]} files):"
  cat "${found[@]}"
  status=1
else
  echo "ThreadSanitizer: no reports"
fi
exit "$status"
