#!/usr/bin/env python3
"""Floods of hostile datagrams at a real root while real discoveries go on.

tests/stress/flood.py BUILD_DIR [--seconds S] [--only SCENARIO ...]

A root (two workers) and two leaves run as turnscout-server processes on 127.0.78.1-3
with signed heartbeats and admission on. For each scenario, udp_flood (a native sender,
one core) floods the root at its full rate for S seconds (default 10) while this script runs
`turnscout probe` discoveries one after another and reads the root's metrics every 250 ms.
The first scenario sends nothing: its figures are the baseline of the same run.

A scenario passes when at least 99 % of the discoveries succeed, every leaf is alive in
every metrics sample, the flooder got no reply where none is due (a Binding answer is due
when a mutation made a valid Binding request), and the root's RSS grew by less than
32 MiB. Floods that cost the root real work (an HMAC, a reply) beyond what it can read
make the kernel drop some of everything, heartbeats included: children retry an
unanswered heartbeat within the interval, so a leaf must not even go suspect. Prints one table row per scenario and exits 1
when any failed. Needs root (raw sockets for the spoofed scenarios). Every process it starts
is stopped by its PID.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from stresslib import Servers, child_states, rss_kib, wait_until, write_key

ROOT = "127.0.78.1:3478"
LEAVES = {"leaf-a": "127.0.78.2:3478", "leaf-b": "127.0.78.3:3478"}
METRICS = "127.0.78.1:9478"

# name, udp_flood arguments, replies other than Binding answers the flooder may get (None:
# not counted, spoofed).
SCENARIOS = [
    ("none", None, 0),
    ("garbage", ["--mode", "garbage"], 0),
    ("mutated-probes", ["--mode", "mutated"], 0),
    ("forged-heartbeats", ["--mode", "heartbeat", "--name", "leaf-a"], 0),
    ("forged-heartbeats-from-child-150k/s", ["--mode", "heartbeat", "--name", "leaf-a",
                                            "--spoof-from", LEAVES["leaf-a"], "--rate", "150000"],
     None),
    ("forged-heartbeats-from-child", ["--mode", "heartbeat", "--name", "leaf-a",
                                      "--spoof-from", LEAVES["leaf-a"]], None),
    ("probes-from-100k-sources", ["--mode", "probe", "--spoof-range", "100000"], None),
]


def write_configs(work):
    write_key(work)
    common = """cluster: {key_file: cluster.key}
heartbeat: {interval: 1s, missed: 3}
admission:
  enabled: true
  tiers: {free: {burst: 1000, refill: 500}}
workers: 2
log: {level: warn}
"""
    children = ", ".join(f'{{name: {n}, address: "{a}"}}' for n, a in LEAVES.items())
    with open(os.path.join(work, "root.yaml"), "w") as f:
        f.write(f'node: {{name: root, listen: ["{ROOT}"]}}\nchildren: [{children}]\n'
                f'metrics: {{listen: "{METRICS}"}}\n' + common)
    for name, address in LEAVES.items():
        with open(os.path.join(work, f"{name}.yaml"), "w") as f:
            f.write(f'node: {{name: {name}, listen: ["{address}"]}}\nparents: ["{ROOT}"]\n'
                    f'services: ["turn:192.0.2.10:3478?transport=udp"]\n' + common)


def discover(cli):
    started = time.monotonic()
    r = subprocess.run([cli, "probe", ROOT, "--no-verify", "--timeout", "2s"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
    return r.returncode == 0, time.monotonic() - started


def run_scenario(args, root_pid, name, flood_args, replies_allowed):
    stop = threading.Event()
    bad_samples = []
    samples = [0]

    def sample():
        while not stop.is_set():
            try:
                states = child_states(METRICS)
            except OSError as e:
                states = {"(metrics)": f"unreadable: {e}"}
            samples[0] += 1
            for leaf in LEAVES:
                if states.get(leaf) != "alive":
                    bad_samples.append((leaf, states.get(leaf, "absent")))
            stop.wait(0.25)

    rss_before = rss_kib(root_pid)
    flooder = None
    if flood_args:
        flooder = subprocess.Popen([args.flood, ROOT, "--duration", str(args.seconds)] +
                                   flood_args, stdout=subprocess.PIPE, text=True)
    sampler = threading.Thread(target=sample)
    sampler.start()
    ok = 0
    times = []
    deadline = time.monotonic() + args.seconds
    try:
        while time.monotonic() < deadline:
            success, took = discover(args.cli)
            ok += success
            times.append(took)
        result = {}
        if flooder:
            out, _ = flooder.communicate(timeout=30)
            if flooder.returncode != 0:
                raise RuntimeError(f"udp_flood exited with {flooder.returncode}")
            result = dict(kv.split("=") for kv in out.strip().splitlines()[-1].split()[1:])
    finally:
        stop.set()
        sampler.join()
        if flooder and flooder.poll() is None:
            flooder.kill()
            flooder.wait()
    rss_after = rss_kib(root_pid)
    total = len(times)
    dead = [b for b in bad_samples if b[1] not in ("suspect",)]
    row = {
        "scenario": name,
        "sent/s": result.get("rate_per_s", "0"),
        "replies (Binding)": (f"{result.get('replies', '0')} ({result.get('binding_replies', '0')})"
                              if replies_allowed is not None else "n/a"),
        "discoveries": f"{ok}/{total}",
        "ok %": f"{100.0 * ok / total:.1f}" if total else "-",
        "p50 ms": f"{1000 * statistics.median(times):.0f}" if times else "-",
        "max ms": f"{1000 * max(times):.0f}" if times else "-",
        "leaf samples suspect": f"{len(bad_samples) - len(dead)}/{samples[0]}",
        "dead": f"{len(dead)}",
        "RSS KiB": f"{rss_before}->{rss_after}",
    }
    failures = []
    if not total or ok < 0.99 * total:
        failures.append("fewer than 99 % of discoveries succeeded")
    if bad_samples:
        failures.append(f"leaves not alive: {sorted(set(bad_samples))}")
    undue = int(result.get("replies", 0)) - int(result.get("binding_replies", 0))
    if replies_allowed is not None and undue > replies_allowed:
        failures.append(f"{undue} replies to the flood other than Binding answers")
    if rss_after - rss_before > 32 * 1024:
        failures.append("RSS grew by more than 32 MiB")
    return row, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--only", nargs="*", help="run only these scenarios (and the baseline)")
    args = parser.parse_args()
    server = os.path.join(args.build_dir, "server/io/turnscout-server")
    args.cli = os.path.join(args.build_dir, "client/cli/turnscout")
    args.flood = os.path.join(args.build_dir, "tests/stress/udp_flood")
    scenarios = [s for s in SCENARIOS if not args.only or s[0] in args.only or s[0] == "none"]

    status = 0
    rows = []
    with tempfile.TemporaryDirectory() as work:
        write_configs(work)
        servers = Servers(server, work)
        try:
            for name in ["root"] + list(LEAVES):
                servers.start(name)
            root_pid = servers.pid("root")
            # Ready when both leaves are alive at the root (at most 15 s).
            if not wait_until(lambda: all(child_states(METRICS).get(leaf) == "alive"
                                          for leaf in LEAVES), 15, step=0.2):
                print("the leaves never became alive at the root")
                return 1
            for name, flood_args, replies_allowed in scenarios:
                row, failures = run_scenario(args, root_pid, name, flood_args, replies_allowed)
                rows.append(row)
                for f in failures:
                    print(f"FAIL {name}: {f}")
                    status = 1
            for name, pid, code in servers.exited():
                print(f"FAIL: server {name} (pid {pid}) exited with {code}")
                status = 1
        finally:
            servers.stop_all()
    columns = list(rows[0].keys())
    widths = [max(len(c), *(len(r[c]) for r in rows)) for c in columns]
    print(" | ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(r[c].ljust(w) for c, w in zip(columns, widths)))
    print(f"flood: {'all scenarios passed' if status == 0 else 'FAILED'} "
          f"({args.seconds:g} s each, {os.cpu_count()} cores)")
    return status


if __name__ == "__main__":
    sys.exit(main())
