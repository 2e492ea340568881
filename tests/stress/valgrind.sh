#!/usr/bin/env bash
# tests/stress/valgrind.sh [BUILD_DIR]: valgrind memcheck on a short real scenario. A root and
# a leaf turnscout-server (two workers each, signed heartbeats, admission on) run under
# memcheck on 127.0.77.1 and 127.0.77.2; the turnscout CLI, also under memcheck, discovers
# through them, then both servers get SIGTERM. Fails on any memcheck error, on a definite or
# indirect leak, on a file descriptor it opened and left open at exit, or when the
# discovery does not reach the leaf. BUILD_DIR defaults to build/release (a gcc build:
# valgrind does not run ASan builds).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
build_dir=${1:-build/release}
ensure_packages valgrind
build "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo
server=$build_dir/server/io/turnscout-server
cli=$build_dir/client/cli/turnscout

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

(umask 077 && openssl rand -hex 32 >"$work/cluster.key")
cat >"$work/root.yaml" <<'EOF'
node: {name: root, listen: ["127.0.77.1:3478"]}
children: [{name: leaf, address: "127.0.77.2:3478"}]
cluster: {key_file: cluster.key}
heartbeat: {interval: 500ms, missed: 6}
admission: {enabled: true}
workers: 2
EOF
cat >"$work/leaf.yaml" <<'EOF'
node: {name: leaf, listen: ["127.0.77.2:3478"]}
parents: ["127.0.77.1:3478"]
cluster: {key_file: cluster.key}
heartbeat: {interval: 500ms, missed: 6}
admission: {enabled: true}
services: ["turn:192.0.2.10:3478?transport=udp"]
workers: 2
EOF

memcheck=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
  --track-fds=yes --child-silent-after-fork=yes)

log "turnscout-server root and leaf under memcheck"
"${memcheck[@]}" --log-file="$work/root.vg" "$server" --config "$work/root.yaml" \
  >"$work/root.log" 2>&1 &
pids+=($!)
root_pid=$!
"${memcheck[@]}" --log-file="$work/leaf.vg" "$server" --config "$work/leaf.yaml" \
  >"$work/leaf.log" 2>&1 &
pids+=($!)
leaf_pid=$!

# Memcheck runs the servers some 20 times slower: wait (at most 60 s) until the root lists
# the leaf, probing with the plain CLI.
found=0
for _ in $(seq 60); do
  if "$cli" probe 127.0.77.1:3478 --no-verify --timeout 1s >/dev/null 2>&1; then
    found=1
    break
  fi
  sleep 1
done
[ "$found" = 1 ] || {
  echo "the root never listed the leaf"
  tail -n 20 "$work"/*.log
  exit 1
}

log "turnscout probe under memcheck"
status=0
"${memcheck[@]}" --log-file="$work/cli.vg" "$cli" probe 127.0.77.1:3478 --no-verify \
  --timeout 10s --json >"$work/cli.json" || status=$?
grep -q '"name": *"leaf"' "$work/cli.json" || {
  echo "the discovery did not reach the leaf (exit $status):"
  cat "$work/cli.json"
  status=1
}

log "SIGTERM to both servers"
kill -TERM "$leaf_pid" "$root_pid"
for pid in "$leaf_pid" "$root_pid"; do
  rc=0
  timeout 60 tail --pid="$pid" -f /dev/null || rc=$?
  [ "$rc" = 0 ] || {
    echo "server $pid did not exit within 60 s"
    status=1
  }
  wait "$pid" || {
    echo "server $pid exited with $?"
    status=1
  }
done
pids=()

for name in root leaf cli; do
  vg=$work/$name.vg
  errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$vg" | tail -n 1)
  # --track-fds lists each descriptor open at exit but stdio, with where it was opened; one
  # the process opened itself and did not close is a leak (a socket, a timer, a pipe).
  # Inherited ones (valgrind's log file, whatever the caller left open) are not.
  leaked=$(awk '/Open (file descriptor|AF_)/ { open = 1; next }
                open { if ($0 !~ /inherited from parent/) n++; open = 0 }
                END { print n + 0 }' "$vg")
  [ -n "$errors" ] && grep -q "FILE DESCRIPTORS" "$vg" || leaked=unknown
  printf '%-5s memcheck errors: %s, descriptors it opened and left open: %s\n' \
    "$name" "${errors:-?}" "$leaked"
  if [ "${errors:-1}" != 0 ] || [ "$leaked" != 0 ]; then
    cat "$vg"
    status=1
  fi
done
[ "$status" = 0 ] && echo "valgrind: clean"
exit "$status"
