#!/usr/bin/env python3
"""Discoveries through a tree whose nodes are killed and restarted under them.

tests/stress/chaos.py BUILD_DIR [--seconds S] [--kill-every S] [--down S] [--seed N]

A three-level tree of turnscout-server processes on 127.0.79.x, with a cluster key:
a root, two regions under it, and four leaves that each have both regions as parents
(redundant parents). For S seconds (default 60) four threads run `turnscout probe`
discoveries through the root back to back, while every --kill-every seconds (default 3) a
random region or leaf gets SIGKILL and is started again --down seconds later (default 1.5)
with the same config; one node is down at a time.

Passes when at least 99.9 % of the discoveries succeed at 50 or more per second, every
node is back at the end (each region alive at the root, each leaf alive at both regions,
within 10 s of the last restart), and the root, which is never killed, holds as many
file descriptors as before and grew by less than 8 MiB. Prints the figures; every process
it starts is stopped by its PID.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

from stresslib import Servers, child_states, fd_count, rss_kib, wait_until, write_key

ROOT = ("root", "127.0.79.1")
REGIONS = [("region-a", "127.0.79.2"), ("region-b", "127.0.79.3")]
LEAVES = [(f"leaf-{i}", f"127.0.79.{10 + i}") for i in range(1, 5)]
PORT = 3478
METRICS_PORT = 9479


def write_configs(work):
    write_key(work)
    common = """cluster: {key_file: cluster.key}
heartbeat: {interval: 500ms, missed: 3}
admission: {enabled: false}
log: {level: warn}
"""

    def children(nodes):
        return ", ".join(f'{{name: {n}, address: "{a}:{PORT}"}}' for n, a in nodes)

    def node(name, address):
        return (f'node: {{name: {name}, listen: ["{address}:{PORT}"]}}\n'
                f'metrics: {{listen: "{address}:{METRICS_PORT}"}}\n')

    configs = {ROOT[0]: node(*ROOT) + f"children: [{children(REGIONS)}]\n" + common}
    parents = ", ".join(f'"{a}:{PORT}"' for _, a in REGIONS)
    for name, address in REGIONS:
        configs[name] = (node(name, address) + f'parents: ["{ROOT[1]}:{PORT}"]\n'
                         f"children: [{children(LEAVES)}]\n" + common)
    for name, address in LEAVES:
        configs[name] = (node(name, address) + f"parents: [{parents}]\n"
                         f'services: ["turn:192.0.2.10:3478?transport=udp"]\n' + common)
    for name, text in configs.items():
        with open(os.path.join(work, f"{name}.yaml"), "w") as f:
            f.write(text)


def all_back():
    """Every region alive at the root, every leaf alive at both regions."""
    try:
        if any(child_states(metrics(ROOT[1])).get(n) != "alive" for n, _ in REGIONS):
            return False
        return all(child_states(metrics(a)).get(n) == "alive" for _, a in REGIONS
                   for n, _ in LEAVES)
    except OSError:
        return False


def metrics(address):
    return f"{address}:{METRICS_PORT}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kill-every", type=float, default=3)
    parser.add_argument("--down", type=float, default=1.5)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    server = os.path.join(args.build_dir, "server/io/turnscout-server")
    cli = os.path.join(args.build_dir, "client/cli/turnscout")
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)

    failures = []
    with tempfile.TemporaryDirectory() as work:
        write_configs(work)
        tree = Servers(server, work)
        try:
            for name, _ in [ROOT] + REGIONS + LEAVES:
                tree.start(name)
            if not wait_until(all_back, 20):
                print("the tree never came up")
                return 1
            root_pid = tree.procs[ROOT[0]].pid

            # Children alive is not yet a tree that answers: the root lists a region once
            # the region's heartbeat says it has live leaves below it. Counting starts when
            # a discovery succeeds (which also warms up the root's tables and sockets).
            def answers():
                return subprocess.run(
                    [cli, "probe", f"{ROOT[1]}:{PORT}", "--no-verify"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    timeout=10).returncode == 0

            if not wait_until(answers, 20):
                print("the tree never answered a discovery")
                return 1
            fds_before, rss_before = fd_count(root_pid), rss_kib(root_pid)

            stop = threading.Event()
            lock = threading.Lock()
            counts = {"ok": 0, "failed": 0}
            failed_at = []
            started = time.monotonic()

            def discover():
                while not stop.is_set():
                    r = subprocess.run(
                        [cli, "probe", f"{ROOT[1]}:{PORT}", "--no-verify", "--timeout", "2s"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=10)
                    with lock:
                        if r.returncode == 0:
                            counts["ok"] += 1
                        else:
                            counts["failed"] += 1
                            failed_at.append((round(time.monotonic() - started, 1),
                                              r.stderr.strip().splitlines()[-1:]))

            threads = [threading.Thread(target=discover) for _ in range(4)]
            for t in threads:
                t.start()
            kills = []
            victims = [n for n, _ in REGIONS + LEAVES]
            try:
                end = started + args.seconds
                while time.monotonic() + args.kill_every <= end:
                    time.sleep(args.kill_every - args.down)
                    victim = rng.choice(victims)
                    tree.kill(victim)
                    kills.append((round(time.monotonic() - started, 1), victim))
                    time.sleep(args.down)
                    tree.start(victim)
                time.sleep(max(0.0, end - time.monotonic()))
            finally:
                stop.set()
                for t in threads:
                    t.join()
            elapsed = time.monotonic() - started
            back = wait_until(all_back, 10)
            time.sleep(1)  # Let the root settle: the last discoveries' sockets are closed.
            fds_after, rss_after = fd_count(root_pid), rss_kib(root_pid)

            total = counts["ok"] + counts["failed"]
            rate = total / elapsed
            print(f"seed {seed}: {len(kills)} kills in {elapsed:.0f} s: "
                  + ", ".join(f"{n}@{t}s" for t, n in kills))
            print(f"discoveries: {counts['ok']}/{total} succeeded "
                  f"({100.0 * counts['ok'] / max(total, 1):.2f} %), {rate:.0f}/s")
            for t, why in failed_at[:10]:
                print(f"  failed at {t}s: {' '.join(why)}")
            print(f"root: {fds_before} -> {fds_after} descriptors, "
                  f"RSS {rss_before} -> {rss_after} KiB")
            print(f"every node back within 10 s of the last restart: {'yes' if back else 'NO'}")
            if counts["ok"] < 0.999 * total:
                failures.append("fewer than 99.9 % of discoveries succeeded")
            if rate < 50:
                failures.append(f"only {rate:.0f} discoveries per second")
            if not back:
                failures.append("not every node came back")
            if fds_after != fds_before:
                failures.append("the root's descriptor count changed")
            if rss_after - rss_before > 8 * 1024:
                failures.append("the root's RSS grew by more than 8 MiB")
            if tree.procs[ROOT[0]].poll() is not None:
                failures.append("the root exited")
        finally:
            tree.stop_all()
    for f in failures:
        print(f"FAIL: {f}")
    print(f"chaos: {'passed' if not failures else 'FAILED'} ({os.cpu_count()} cores)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
