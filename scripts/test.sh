#!/usr/bin/env bash
# Runs every test: formatting and layering checks, then the release build (gcc) with all tests, the
# sanitizer build (clang, ASan + UBSan) with all tests, and the five fuzzers for a fixed number
# of inputs from a fixed seed (longer random runs: tests/stress/fuzz.sh). Installs missing
# Debian packages first. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

# coturn: real TURN servers at the leaves of the end-to-end tests and in the README's example;
# systemd: systemd-analyze and systemd-sysusers check the packaged unit and user (it is not
# started). Neither is needed by the demo.
ensure_packages coturn systemd

log "clang-format check"
git ls-files '*.cpp' '*.hpp' '*.h' '*.c' | xargs -r clang-format --dry-run -Werror

log "layering check (DESIGN.md's parts and what each may include)"
python3 scripts/check_layers.py

build build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTURNSCOUT_TESTS=ON
log "tests (release)"
ctest --no-tests=error --test-dir build/release --output-on-failure -j "$(nproc)"

CC=clang CXX=clang++ build build/sanitize -DCMAKE_BUILD_TYPE=Debug -DTURNSCOUT_SANITIZE=ON
log "tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --no-tests=error --test-dir build/sanitize --output-on-failure -j "$(nproc)"

CC=clang CXX=clang++ \
  BUILD_TARGETS="fuzz_proto_decode fuzz_server_core fuzz_client_core fuzz_server_config fuzz_stream_table" \
  build build/fuzz \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTURNSCOUT_FUZZ=ON -DTURNSCOUT_TESTS=OFF
log "fuzz (libFuzzer, a fixed number of inputs per target from a fixed seed)"
ctest --no-tests=error --test-dir build/fuzz --output-on-failure
