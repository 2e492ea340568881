#!/usr/bin/env bash
# Builds turnscout, starts a whole tree of balance servers on loopback from
# configs/demo.yaml, probes through it with the CLI, and stops the tree.
#   bash scripts/demo.sh              the tree as it is
#   bash scripts/demo.sh --block-udp  every UDP datagram to the tree dropped, as on a network
#                                     that blocks UDP: the probe gets through over TCP
#   bash scripts/demo.sh --tls        UDP blocked too, and the walk goes over TLS, every
#                                     node's certificate (made here) checked
#   bash scripts/demo.sh --ipv6       the same tree on [::1], probed over IPv6
set -euo pipefail
mode=${1:-}
case "$mode" in
  "" | --block-udp | --tls | --ipv6) ;;
  *)
    echo "usage: bash scripts/demo.sh [--block-udp | --tls | --ipv6]" >&2
    exit 2
    ;;
esac
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages
build build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTURNSCOUT_TESTS=OFF

cli=build/release/client/cli/turnscout
work=$(mktemp -d "${TMPDIR:-/tmp}/turnscout-demo-XXXXXX")
state=$work/state.json
cluster_pid=

# Whatever happens below, the cluster is stopped (by its PID) and the folder removed.
cleanup() {
  if [ -n "$cluster_pid" ] && kill -0 "$cluster_pid" 2>/dev/null; then
    kill -TERM "$cluster_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$cluster_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$cluster_pid" 2>/dev/null || true
    wait "$cluster_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

cluster_flags=()
probe_flags=()
case "$mode" in
  --block-udp) cluster_flags=(--block-udp) ;;
  --ipv6) cluster_flags=(--ipv6) ;;
  --tls)
    # One self-signed certificate for the addresses the proxies take (configs/demo.yaml:
    # 127.2.0.1 on), which the probe is told to trust.
    names=IP:127.2.0.1
    for i in $(seq 2 32); do names="$names,IP:127.2.0.$i"; done
    log "make: a certificate for the tree's addresses (openssl req -x509)"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
      -subj /CN=turnscout-demo -addext "subjectAltName=$names" \
      -keyout "$work/key.pem" -out "$work/cert.pem" 2>"$work/openssl.log" ||
      { cat "$work/openssl.log" >&2; exit 1; }
    cluster_flags=(--block-udp --tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
    probe_flags=(--transport tls --tls-ca "$work/cert.pem")
    ;;
esac

log "start: turnscout cluster configs/demo.yaml ${cluster_flags[*]}"
"$cli" cluster configs/demo.yaml "${cluster_flags[@]}" --state-file "$state" >"$work/cluster.log" 2>&1 &
cluster_pid=$!

# The state file appears once every node is alive at its parents (at most 20 s).
for _ in $(seq 200); do
  [ -s "$state" ] && break
  if ! kill -0 "$cluster_pid" 2>/dev/null; then
    cat "$work/cluster.log" >&2
    echo "the cluster exited before it converged" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -s "$state" ]; then
  cat "$work/cluster.log" >&2
  echo "the cluster did not converge in 20 s" >&2
  exit 1
fi
cat "$work/cluster.log"

# The first root address: "roots": ["127.2.0.1:PORT", ...] (or "[::1]:PORT") in the state file.
root=$(tr -d ' \n' <"$state" | grep -o '"roots":\["[^"]*"' | sed 's/.*\["//; s/"$//')

log "probe: turnscout probe $root ${probe_flags[*]}"
"$cli" probe "$root" "${probe_flags[@]}"

log "stop: SIGTERM to the cluster (pid $cluster_pid)"
kill -TERM "$cluster_pid"
status=0
wait "$cluster_pid" || status=$?
cluster_pid=
if [ $status != 0 ]; then
  echo "the cluster exited with status $status" >&2
  exit 1
fi
echo "cluster stopped cleanly"
