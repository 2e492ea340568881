#!/usr/bin/env bash
# What a parent costs as its tree grows: one turnscout-server with 10, 1,000, 10,000 and
# 100,000 dynamic children (virtual ones, bench/heartbeat_load, each heartbeating once a
# second with the cluster key), side by side with the same parent at 10 children.
#
#   bash bench/tree_growth.sh [BUILD_DIR]      (default: build/release)
#
# For each size: the parent's RSS once every child is alive; its Probe replies per second
# (udp_load, closed loop, 1200-byte Probes as the SDK sends, the heartbeats paused for the
# measurement so that only the listing's cost differs); and its CPU per heartbeat absorbed
# (the whole process's CPU over 3 s of heartbeats alone, from schedstat, divided by the
# heartbeats due in that time), from which the fan-in one core could take at one heartbeat
# a second. A parent that cannot keep its children alive gets "-" there: its CPU then says
# nothing per heartbeat.
#
# Environment: SERVER_CPU (0), LOAD_CPU (1), SIZES ("10 1000 10000 100000"), DURATION (2 s
# of Probes per size). Every process started here is stopped by its PID on exit.
set -euo pipefail
build=${1:-build/release}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SIZES=${SIZES:-10 1000 10000 100000}
DURATION=${DURATION:-2}
server=$build/server/io/turnscout-server
load=$build/bench/udp_load
children=$build/bench/heartbeat_load
for b in "$server" "$load" "$children"; do
  [[ -x $b ]] || { echo "missing $b: build first" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/turnscout-growth-XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
(umask 077 && openssl rand -hex 32 >"$tmp/cluster.key")

# cpu_s PID: the CPU time of every thread of a process, in seconds, from schedstat (kept in
# nanoseconds, where /proc/PID/stat counts 10 ms ticks).
cpu_s() {
  cat /proc/"$1"/task/*/schedstat | awk '{ ns += $1 } END { printf "%.6f", ns / 1e9 }'
}
now_s() { date +%s.%N; }
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# alive METRICS_ADDR: children the parent lists as alive.
alive() {
  python3 - "$1" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen("http://%s/metrics" % sys.argv[1], timeout=2).read().decode()
print(sum(int(float(l.split()[-1])) for l in text.splitlines() if l.startswith('turnscout_children{state="alive"}')))
PY
}

printf '%-9s %10s %12s %12s %12s %14s %14s\n' children "RSS KiB" "vs 10" "Probes/s" "vs 10" \
  "us/heartbeat" "fan-in/core"
base_rss=""
base_rate=""
notes=()""
for n in $SIZES; do
  cat >"$tmp/parent.yaml" <<EOF
node: {name: parent, listen: ["127.0.0.1:0"]}
cluster:
  key_file: $tmp/cluster.key
  accept_dynamic_children: true
  max_dynamic_children: 1000000
  registrations_per_source: 1000000
heartbeat: {interval: 1s, missed: 5}
load: {source: static, value: 0.3}
listing: {strategy: least-load, max_children: 8}
admission: {enabled: false, unknown_control_rate: 1000000}
metrics: {listen: "127.0.0.1:0"}
log: {level: warn}
workers: 1
EOF
  rm -f "$tmp/parent.ready"
  taskset -c "$SERVER_CPU" "$server" --config "$tmp/parent.yaml" --ready-file "$tmp/parent.ready" \
    >"$tmp/parent.log" 2>&1 &
  parent=$!
  pids+=("$parent")
  for _ in $(seq 100); do [[ -s $tmp/parent.ready ]] && break; sleep 0.05; done
  udp=$(awk '$1 == "udp" { print $2 }' "$tmp/parent.ready")
  metrics=$(awk '$1 == "metrics" { print $2 }' "$tmp/parent.ready")
  [[ -n $udp && -n $metrics ]] || { cat "$tmp/parent.log" >&2; exit 1; }
  # What the parent spends with no children (its timers, the metrics endpoint), per second:
  # subtracted below, so that a few heartbeats are not charged for it.
  i0=$(now_s)
  ic0=$(cpu_s "$parent")
  sleep 1
  ic1=$(cpu_s "$parent")
  i1=$(now_s)
  idle=$(awk -v a="$ic0" -v b="$ic1" -v t0="$i0" -v t1="$i1" 'BEGIN { print (b - a) / (t1 - t0) }')
  "$children" "$udp" --children "$n" --key-file "$tmp/cluster.key" --cpu "$LOAD_CPU" \
    >"$tmp/children.log" 2>&1 &
  gen=$!
  pids+=("$gen")
  # Every child registered and alive, within 15 s; a parent that cannot keep up with the
  # heartbeats never gets there, and the row says how many it kept alive.
  up=0
  for _ in $(seq 150); do
    up=$(alive "$metrics" || echo 0)
    ((up >= n)) && break
    sleep 0.1
  done
  sleep 1
  up=$(alive "$metrics" || echo 0)
  note=""
  ((up < n)) && note="  only $up of $n alive: the parent cannot keep up with the heartbeats"
  notes+=("$n children:$note")
  rss=$(rss_kib "$parent")
  # Heartbeats alone for 3 s: the parent's CPU per heartbeat. heartbeat_load paces them at
  # n a second, so the window holds n x its length.
  t0=$(now_s)
  c0=$(cpu_s "$parent")
  sleep 3
  c1=$(cpu_s "$parent")
  t1=$(now_s)
  us=$(awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v n="$n" -v idle="$idle" \
    'BEGIN { h = n * (t1 - t0); c = (c1 - c0) - idle * (t1 - t0)
             if (h > 0) printf "%.2f", (c > 0 ? c : 0) * 1e6 / h; else print "-" }')
  # Probes with the heartbeats paused (children stay alive for missed x interval = 5 s).
  kill -STOP "$gen"
  out=$("$load" "$udp" --request probe --size 1200 --window 64 --cpu "$LOAD_CPU" \
    --duration "$DURATION" --warmup 0.3 --server-pid "$parent" 2>&1) || true
  kill -CONT "$gen"
  rate=$(awk '$1 == "result" { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "replies_per_s") print kv[2] } }' <<<"$out")
  [[ -z $base_rss ]] && base_rss=$rss && base_rate=$rate
  # Heartbeats the parent did not absorb say nothing of its cost per heartbeat.
  [[ -n $note ]] && us="-"
  fanin=$(awk -v u="$us" 'BEGIN { if (u + 0 > 0) printf "%.0f", 1e6 / u; else print "-" }')
  printf '%-9s %10s %12s %12s %12s %14s %14s%s\n' "$n" "$rss" \
    "$(awk -v a="$rss" -v b="$base_rss" 'BEGIN { printf "%.2f", a / b }')" "${rate:-0}" \
    "$(awk -v a="${rate:-0}" -v b="${base_rate:-1}" 'BEGIN { printf "%.2f", a / b }')" "$us" "$fanin" \
    "$note"
  kill -TERM "$gen" "$parent" 2>/dev/null || true
  wait "$gen" "$parent" 2>/dev/null || true
  pids=()
done
echo
echo "RSS: the parent's once every child is alive. Probes/s: udp_load, 1200-byte Probes, the"
echo "heartbeats paused. us/heartbeat: the parent process's CPU (every thread, schedstat) over"
echo "3 s of heartbeats alone, less what it spent idle before its children came, divided by"
echo "the heartbeats due then (n a second); fan-in/core:"
echo "heartbeats one core absorbs per second at that cost, so the children one parent can take"
echo "at one heartbeat a second."
