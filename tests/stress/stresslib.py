"""What the stress scripts (chaos.py, flood.py) share: the cluster key, server processes
stopped by their PID, readings of a server's metrics and of a process's resources."""

import os
import re
import signal
import subprocess
import time
import urllib.request


def write_key(work, name="cluster.key"):
    """A fresh random key, readable by this user alone (the server refuses others)."""
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(path, 0o600)


def child_states(metrics_address):
    """{child: state} from a server's metrics at HOST:PORT."""
    with urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=2) as r:
        text = r.read().decode()
    return dict(re.findall(r'turnscout_child_state\{child="([^"]+)",state="([^"]+)"\} 1', text))


def wait_until(predicate, seconds, step=0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OSError:
            pass
        time.sleep(step)
    try:
        return predicate()
    except OSError:
        return False


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


class Servers:
    """turnscout-server processes by name, each from <work>/<name>.yaml, logging to
    <work>/<name>.log; stop_all() sends SIGTERM, then SIGKILL to any left after 10 s."""

    def __init__(self, server, work):
        self.server = server
        self.work = work
        self.procs = {}

    def start(self, name):
        with open(os.path.join(self.work, f"{name}.log"), "a") as log:
            self.procs[name] = subprocess.Popen(
                [self.server, "--config", os.path.join(self.work, f"{name}.yaml")],
                stdout=log, stderr=subprocess.STDOUT)

    def pid(self, name):
        return self.procs[name].pid

    def kill(self, name):
        p = self.procs[name]
        os.kill(p.pid, signal.SIGKILL)
        p.wait()

    def exited(self):
        """(name, pid, code) of every server that has ended."""
        return [(n, p.pid, p.returncode) for n, p in self.procs.items() if p.poll() is not None]

    def stop_all(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
