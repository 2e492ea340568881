#!/usr/bin/env bash
# Whole-server throughput on one core, side by side with baselines measured in the same run.
#
#   bash bench/throughput.sh [BUILD_DIR]      (default: build/release)
#
# Each server runs pinned to SERVER_CPU, the load generator (udp_load) to LOAD_CPU; both
# on loopback. Rows: the minimal C server with recvmmsg/sendmmsg and with one
# recvfrom/sendto per datagram (bench/baseline_server.c), turnscout-server with one worker
# answering Probes as a leaf and as a branch of 10 live children, admission control off and
# on (with a bucket too large to refuse anything), turnscout-server answering STUN Binding,
# and coturn answering STUN Binding when `turnserver` is installed. The table gives each
# row's replies per second and its ratio to the recvmmsg/sendmmsg baseline (DESIGN.md's
# target for Probes: at least 0.9 of it), and the server's CPU time per reply next to the
# baseline's. bench/README.md explains every column.
#
# Every server is started first; then the rows take turns, ROUNDS times, and each row
# keeps its best run.
#
# Environment: SERVER_CPU (0), LOAD_CPU (1), ROUNDS (3), DURATION seconds measured per run
# (3), WARMUP seconds before measuring (0.5), SIZE request bytes for every row (256: the
# leaf's reply, with three TURN URIs, takes 212 bytes and a Probe reply is never larger than
# its request), WINDOW requests outstanding (128, or 64 when SIZE is over 512).
# RATES (empty: none), e.g. "10000 50000 100000": then every row is also loaded open loop at
# each of these rates for LATENCY_DURATION seconds (1) and the reply latency's p50, p99 and
# p99.9 are tabled, counted from the time each request was due (udp_load --rate).
# Every process started here is stopped by its PID on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-$here/../build/release}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-0.5}
ROUNDS=${ROUNDS:-3}
SIZE=${SIZE:-256}
RATES=${RATES:-}
LATENCY_DURATION=${LATENCY_DURATION:-1}
# Large requests fill the server's default receive buffer sooner: fewer in flight.
WINDOW=${WINDOW:-$((SIZE > 512 ? 64 : 128))}

load=$build/bench/udp_load
baseline=$build/bench/baseline_server
server=$build/server/io/turnscout-server
for bin in "$load" "$baseline" "$server"; do
  if [[ ! -x $bin ]]; then
    echo "missing $bin: build the project in $build first" >&2
    exit 2
  fi
done
if ! command -v taskset >/dev/null; then
  echo "taskset (util-linux) is needed to pin the processes" >&2
  exit 2
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start NAME CPU COMMAND...: runs COMMAND pinned to CPU in the background; its PID is in
# $started and in pids (stopped on exit).
start() {
  local name=$1 cpu=$2
  shift 2
  taskset -c "$cpu" "$@" >"$tmp/$name.log" 2>&1 &
  started=$!
  pids+=("$started")
}

# stop PID: SIGTERM, then wait for it to exit.
stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=() pid
  for pid in "${pids[@]}"; do
    [[ $pid == "$1" ]] || keep+=("$pid")
  done
  pids=("${keep[@]}")
}

# wait_udp FILE NAME: waits up to 5 s for NAME's ready file; its first UDP address in $udp.
wait_udp() {
  local file=$1 name=$2 i
  for ((i = 0; i < 100; i++)); do
    if [[ -s $file ]]; then
      udp=$(awk '$1 == "udp" { print $2; exit }' "$file")
      return 0
    fi
    sleep 0.05
  done
  echo "$name did not start; its log:" >&2
  cat "$tmp/$name.log" >&2
  exit 1
}

# config NAME ADMISSION [EXTRA YAML]: a one-worker server config on a free loopback port.
config() {
  local name=$1 admission=$2
  cat >"$tmp/$name.yaml" <<EOF
node: {name: $name, listen: ["127.0.0.1:0"]}
load: {source: static, value: 0.3}
listing: {max_children: 0}
admission:
  enabled: $admission
  tiers:
    free: {burst: 1000000, refill: 1000000}
log: {level: warn}
workers: 1
${3:-}
EOF
}

# Rows: a label, the address udp_load loads, the request it sends, the server's PID.
row_names=()
row_addresses=()
row_requests=()
row_pids=()
add_row() {
  row_names+=("$1")
  row_addresses+=("$2")
  row_requests+=("$3")
  row_pids+=("$4")
}
skipped=()

start_baseline() {
  local mode=$1 row=$2
  start "baseline-$mode" "$SERVER_CPU" "$baseline" "$mode" 127.0.0.1 0 "$tmp/baseline-$mode.ready"
  local pid=$started
  wait_udp "$tmp/baseline-$mode.ready" "baseline-$mode"
  add_row "$row" "$udp" binding "$pid"
}

# start_turnscout NAME: turnscout-server with $tmp/NAME.yaml; its PID in $server_pid and
# its address in $address.
start_turnscout() {
  start "$1" "$SERVER_CPU" "$server" --config "$tmp/$1.yaml" --ready-file "$tmp/$1.ready"
  server_pid=$started
  wait_udp "$tmp/$1.ready" "$1"
  address=$udp
}

leaf_services='services: ["turn:192.0.2.10:3478?transport=udp", "turn:192.0.2.10:3478?transport=tcp", "turns:192.0.2.10:5349?transport=tcp"]'

start_leaf() {
  local admission=$1 label=$2
  config "leaf-$admission" "$admission" "$leaf_services"
  start_turnscout "leaf-$admission"
  "$load" "$address" --inspect --size "$SIZE" | sed 's/^/  leaf: /' || true
  add_row "turnscout leaf, Probe, admission $label" "$address" probe "$server_pid"
  if [[ $admission == false ]]; then
    add_row "turnscout leaf, STUN Binding" "$address" binding "$server_pid"
  fi
}

# A branch with 10 static children, each a real turnscout-server (pinned to LOAD_CPU, idle
# but for one heartbeat a second). The children need the branch's address and the branch
# needs theirs: the branch starts with none and reloads (SIGHUP) once they are listening.
start_branch() {
  local admission=$1 label=$2 i children=()
  config "branch-$admission" "$admission"
  start_turnscout "branch-$admission"
  local branch=$address branch_pid=$server_pid
  for i in $(seq 1 10); do
    config "child-$admission-$i" false "parents: [\"$branch\"]
services: [\"turn:192.0.2.$i:3478?transport=udp\"]"
    start "child-$admission-$i" "$LOAD_CPU" "$server" --config "$tmp/child-$admission-$i.yaml" \
      --ready-file "$tmp/child-$admission-$i.ready"
  done
  for i in $(seq 1 10); do
    wait_udp "$tmp/child-$admission-$i.ready" "child-$admission-$i"
    children+=("  - {name: child-$admission-$i, address: \"$udp\"}")
  done
  printf 'children:\n%s\n' "$(printf '%s\n' "${children[@]}")" >>"$tmp/branch-$admission.yaml"
  kill -HUP "$branch_pid"
  local status=""
  for ((i = 0; i < 100; i++)); do
    status=$("$load" "$branch" --inspect --size 1200 || true)
    [[ $status == *" 10 children"* ]] && break
    sleep 0.1
  done
  if [[ $status != *" 10 children"* ]]; then
    echo "the branch did not list its 10 children within 10 s: $status" >&2
    cat "$tmp/branch-$admission.log" >&2
    exit 1
  fi
  "$load" "$branch" --inspect --size "$SIZE" | sed 's/^/  branch: /' || true
  add_row "turnscout branch (10 children), Probe, admission $label" "$branch" probe "$branch_pid"
}

# coturn answering STUN Binding. Its port: one the kernel just gave a baseline server.
start_coturn() {
  if ! command -v turnserver >/dev/null; then
    skipped+=("coturn: not run, turnserver (Debian package coturn) is not installed")
    return
  fi
  start coturn-port "$SERVER_CPU" "$baseline" single 127.0.0.1 0 "$tmp/coturn-port.ready"
  local probe_pid=$started port i pid
  wait_udp "$tmp/coturn-port.ready" coturn-port
  port=${udp##*:}
  stop "$probe_pid"
  start coturn "$SERVER_CPU" turnserver -n --no-tls --no-dtls --no-cli --no-rfc5780 \
    --listening-ip=127.0.0.1 --listening-port="$port" --no-tcp --no-stdout-log \
    --log-file="$tmp/coturn-own.log" --simple-log --pidfile="$tmp/coturn.pid"
  pid=$started
  for ((i = 0; i < 100; i++)); do
    if "$load" "127.0.0.1:$port" --request binding --size "$SIZE" --inspect >/dev/null; then
      add_row "coturn $(turnserver --version 2>/dev/null | head -n1), STUN Binding" \
        "127.0.0.1:$port" binding "$pid"
      return
    fi
    sleep 0.05
  done
  skipped+=("coturn: started but did not answer a STUN Binding within 5 s")
}

# result_field OUTPUT NAME: the value of NAME=... on udp_load's "result" line.
result_field() {
  awk -v key="$2" '$1 == "result" {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] } }' <<<"$1"
}

# measure ROW: one udp_load run against row ROW. Sets $rate (empty: no replies), $server_us
# (server CPU per reply), $server_pct and $load_pct (the server's and udp_load's share of
# their cores) and $note (udp_load's counters).
measure() {
  local out
  out=$("$load" "${row_addresses[$1]}" --request "${row_requests[$1]}" --size "$SIZE" \
    --window "$WINDOW" --cpu "$LOAD_CPU" --duration "$DURATION" --warmup "$WARMUP" \
    --server-pid "${row_pids[$1]}" 2>&1) || true
  rate=$(result_field "$out" replies_per_s)
  server_us=$(result_field "$out" server_us_per_reply)
  server_pct=$(result_field "$out" server_cpu_pct)
  load_pct=$(result_field "$out" load_cpu_pct)
  note=$(awk '$1 == "lost" { print $0 }' <<<"$out")
  if [[ -z $rate || $rate == 0 ]]; then
    rate=""
    note="no replies: $(tr '\n' ' ' <<<"$out")"
  fi
}

echo "one worker on CPU $SERVER_CPU, udp_load on CPU $LOAD_CPU; requests of $SIZE B, window $WINDOW;"
echo "$ROUNDS rounds, each row $DURATION s measured after $WARMUP s of warm-up; best round kept"
start_baseline mmsg "baseline C, recvmmsg/sendmmsg"
start_baseline single "baseline C, recvfrom/sendto"
start_leaf false off
start_leaf true "on (huge bucket)"
start_branch false off
start_branch true "on (huge bucket)"
start_coturn

# Rows take turns, one run each per round, and each keeps its best run: a disturbance on a
# shared machine then costs one round of every row alike instead of every round of one row.
best=()
best_server_us=()
best_server_pct=()
best_load_pct=()
spread=()
notes=()
for ((round = 1; round <= ROUNDS; round++)); do
  for i in "${!row_names[@]}"; do
    measure "$i"
    [[ -z $rate ]] && { notes[i]=$note; continue; }
    spread[i]="${spread[i]:+${spread[i]} }$rate"
    if [[ -z ${best[i]:-} ]] || ((rate > best[i])); then
      best[i]=$rate
      best_server_us[i]=$server_us
      best_server_pct[i]=$server_pct
      best_load_pct[i]=$load_pct
      notes[i]=$note
    fi
  done
done

echo
reference=${best[0]:-}
reference_us=${best_server_us[0]:-}
format='%-64s %10s %7s %7s %8s %7s %7s  %s\n'
printf "$format" "" "requests" "vs" "server" "server" "CPU vs" "udp_load" ""
printf "$format" server "/s" "mmsg" "core" "us/reply" "mmsg" "core" "target (Probe)"
for i in "${!row_names[@]}"; do
  rate=${best[i]:-}
  if [[ -z $rate || -z $reference ]]; then
    printf "$format" "${row_names[i]}" "-" "-" "-" "-" "-" "-" "no replies"
    continue
  fi
  ratio=$(awk -v r="$rate" -v b="$reference" 'BEGIN { printf "%.2f", r / b }')
  cpu_ratio=$(awk -v r="${best_server_us[i]}" -v b="$reference_us" \
    'BEGIN { if (r > 0 && b > 0) printf "%.2f", b / r; else print "-" }')
  verdict=""
  if [[ ${row_names[i]} == turnscout*Probe* ]]; then
    verdict=$(awk -v x="$ratio" 'BEGIN { print (x >= 0.9 ? ">= 0.90 met" : ">= 0.90 MISSED") }')
  fi
  printf "$format" "${row_names[i]}" "$rate" "$ratio" "${best_server_pct[i]}%" \
    "${best_server_us[i]}" "$cpu_ratio" "${best_load_pct[i]}%" "$verdict"
done
echo
echo "requests/s of every round, and udp_load's counters in the best one:"
for i in "${!row_names[@]}"; do
  echo "  ${row_names[i]}: ${spread[i]:-none}; ${notes[i]:-}"
done
for line in "${skipped[@]}"; do
  echo "$line"
done

# Latency under load: each row at each rate, open loop, once.
[[ -z $RATES ]] && exit 0
echo
echo "latency under load: open loop at a fixed rate for $LATENCY_DURATION s (after 0.2 s), request $SIZE B;"
echo "latency in us from the time each request was due to leave, so queueing shows; a request"
echo "unanswered within 50 ms is lost and counts as slower than any answer (>50ms); one run"
echo "each, so p99.9 rests on 10 to 100 samples: compare rows, and rerun to see the spread"
format='%-64s %9s %9s %9s %9s %9s %7s\n'
printf "$format" server "rate/s" "answered/s" "p50" "p99" "p99.9" "lost"
# A percentile that fell on a lost request (-1 from udp_load) shows as >50ms.
pct() { awk -v v="$1" 'BEGIN { print (v == "" ? "-" : (v + 0 < 0 ? ">50ms" : v)) }'; }
for i in "${!row_names[@]}"; do
  for r in $RATES; do
    out=$("$load" "${row_addresses[i]}" --request "${row_requests[i]}" --size "$SIZE" \
      --cpu "$LOAD_CPU" --rate "$r" --duration "$LATENCY_DURATION" --warmup 0.2 2>&1) || true
    printf "$format" "${row_names[i]}" "$r" "$(result_field "$out" achieved_per_s)" \
      "$(pct "$(result_field "$out" p50_us)")" "$(pct "$(result_field "$out" p99_us)")" \
      "$(pct "$(result_field "$out" p999_us)")" "$(result_field "$out" lost)"
  done
done
