#!/usr/bin/env python3
"""The same Node.js app (bench/peers/exec_app.js) under three supervisors, in one run.

  clusterd  clusterd --workers N -- node exec_app.js   (exec mode, socket by LISTEN_FDS)
  pm2       pm2 start exec_app.js -i N                 (PM2 cluster mode, from the npm registry)
  cluster   node cluster_reload_primary.js             (Node's own cluster module)

For each, with N workers on loopback:
  * requests/s: wrk -t2 -c32 on / for --duration seconds;
  * failed requests per rolling reload: wrk keeps 32 keep-alive connections
    busy while --reloads reloads run one after the other (clusterd reload,
    pm2 reload, SIGHUP to the primary); failed = non-2xx + socket errors
    (connect, read, write, timeout), divided by the reloads;
  * kill -> first answer from the replacement: SIGKILL one worker, then new
    connections every ~1 ms until one is answered by a pid that did not exist
    before (the app names its pid in X-Pid); --kills times, p50 and max;
  * memory: PSS of the supervisor's whole process tree, idle, from
    /proc/PID/smaps_rollup.
The app's own start-up (spawn of `node exec_app.js` -> first answer) is
measured the same way, as the floor a restart cannot beat.

Every process started here is stopped by its pid (PM2 with `pm2 kill` on its
own PM2_HOME); loads are bounded by wrk's -d. Prints a Markdown table.
  bench/exec_peers.py [--workers 2] [--duration 5] [--reloads 3] [--kills 5]
"""

import argparse
import datetime
import http.client
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
NODE_DIR = os.environ.get("NODE_DIR", os.path.join(BUILD, "bench-node"))
APP = os.path.join(ROOT, "bench", "peers", "exec_app.js")
PRIMARY = os.path.join(ROOT, "bench", "peers", "cluster_reload_primary.js")
CLUSTERD = os.path.join(BUILD, "clusterd")


def answer_pid(port, timeout=0.5):
    """The X-Pid of one GET / on a new connection, or None."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        conn.close()
        return int(response.getheader("X-Pid")) if response.status == 200 else None
    except (OSError, http.client.HTTPException, TypeError, ValueError):
        return None


def wait_answering(port, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answer_pid(port) is not None:
            return True
        time.sleep(0.02)
    return False


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry))
        except (OSError, IndexError):
            pass
    return sorted(out)


def tree(pid):
    found = [pid]
    for child in children(pid):
        found += tree(child)
    return found


def pss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def wrk(port, seconds):
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    failed = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        failed += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        failed += sum(int(x) for x in m.groups())
    return rps, failed


class Stack:
    """One supervisor running N copies of the app on PORT."""

    def __init__(self, name, port, workers, work):
        self.name, self.port, self.workers, self.work = name, port, workers, work
        self.proc = None
        self.log = open(os.path.join(work, name + ".log"), "w")

    def worker_pids(self):
        return [p for p in children(self.root_pid()) if self.is_worker(p)]

    def is_worker(self, pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return b"exec_app.js" in f.read()
        except OSError:
            return False

    def root_pid(self):
        return self.proc.pid

    def wait_workers(self, pids_before=(), seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) == self.workers and not set(pids) & set(pids_before):
                return pids
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: workers did not come up")


class Clusterd(Stack):
    def start(self):
        self.socket = os.path.join(self.work, "clusterd.sock")
        args = [CLUSTERD, "--listen", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                "--control-socket", self.socket, "--log-level", "warn"]
        if os.geteuid() == 0:
            args.append("--allow-root")
        self.proc = subprocess.Popen(args + ["--", "node", APP], stdout=self.log, stderr=self.log)

    def label(self):
        return "clusterd -- node"

    def reload(self):
        subprocess.run([CLUSTERD, "reload", "--control-socket", self.socket], check=True, capture_output=True,
                       timeout=60)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)


class NodeCluster(Stack):
    def start(self):
        self.proc = subprocess.Popen(["node", PRIMARY, "--workers", str(self.workers)], stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, env=dict(os.environ, PORT=str(self.port)))

    def label(self):
        return f"Node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()} cluster"

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)
        while self.proc.stdout.readline().strip() != "rolled":
            pass

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)


class Pm2(Stack):
    def pm2(self, *args, check=True):
        return subprocess.run([self.bin, *args], env=self.env, capture_output=True, text=True, timeout=120,
                              check=check)

    def start(self):
        self.bin = os.path.join(NODE_DIR, "node_modules", ".bin", "pm2")
        self.env = dict(os.environ, PM2_HOME=os.path.join(self.work, "pm2"), PORT=str(self.port))
        self.pm2("start", APP, "-i", str(self.workers), "--name", "bench")
        with open(os.path.join(self.env["PM2_HOME"], "pm2.pid")) as f:
            self.god = int(f.read())

    def root_pid(self):
        return self.god

    def label(self):
        return f"PM2 {self.pm2('--version').stdout.strip()} cluster mode"

    def reload(self):
        self.pm2("reload", "bench")

    def stop(self):
        self.pm2("kill", check=False)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def kill_to_answer(stack, kills):
    """ms from SIGKILL of a worker to the first answer by a pid that did not exist before."""
    samples = []
    for _ in range(kills):
        time.sleep(1.5)  # past clusterd's --min-uptime: the immediate-restart path, not a backoff
        before = set(stack.worker_pids())
        victim = sorted(before)[0]
        t0 = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        deadline = t0 + 20
        while time.monotonic() < deadline:
            pid = answer_pid(stack.port, timeout=0.2)
            if pid is not None and pid not in before:
                samples.append((time.monotonic() - t0) * 1000)
                break
            time.sleep(0.001)
        stack.wait_workers()
    return samples


def app_start_ms(port, runs):
    samples = []
    for _ in range(runs):
        t0 = time.monotonic()
        proc = subprocess.Popen(["node", APP], env=dict(os.environ, PORT=str(port)),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = wait_answering(port, 10)
        samples.append((time.monotonic() - t0) * 1000)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        if not ok:
            raise RuntimeError("the app did not start on its own")
    return samples


def ensure_pm2():
    if not os.path.exists(os.path.join(NODE_DIR, "node_modules", ".bin", "pm2")):
        os.makedirs(NODE_DIR, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", NODE_DIR, "pm2@5"],
                       check=True, stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--reloads", type=int, default=3)
    parser.add_argument("--kills", type=int, default=5)
    opts = parser.parse_args()
    for tool in ("node", "wrk", "npm"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (scripts/install-deps.sh bench)")
    if not os.access(CLUSTERD, os.X_OK):
        sys.exit(f"build first: {CLUSTERD} is missing")
    ensure_pm2()
    work = tempfile.mkdtemp(prefix="clusterd-exec-peers.")
    print(f"the same Node.js app under three supervisors, {opts.workers} workers, "
          f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%MZ}, {os.cpu_count()} CPUs, "
          f"{platform.release()}")
    start = app_start_ms(18800, opts.kills)
    print(f"\nthe app's own start-up (spawn -> first answer): p50 {statistics.median(start):.1f} ms, "
          f"max {max(start):.1f} ms\n")
    print("| supervisor | requests/s | failed per reload | kill -> replacement answers p50 / max ms | PSS MiB |")
    print("| --- | --- | --- | --- | --- |")
    for kind, port in ((Clusterd, 18801), (Pm2, 18802), (NodeCluster, 18803)):
        stack = kind(kind.__name__.lower(), port, opts.workers, work)
        stack.start()
        try:
            if not wait_answering(port):
                raise RuntimeError(f"{stack.name} did not answer; see {stack.log.name}")
            stack.wait_workers()
            time.sleep(1)
            pss = pss_kib(tree(stack.root_pid())) / 1024
            rps, _ = wrk(port, opts.duration)
            load = subprocess.Popen(
                ["wrk", "-t2", "-c32", f"-d{2 + 3 * opts.reloads}s", f"http://127.0.0.1:{port}/"],
                stdout=subprocess.PIPE, text=True)
            time.sleep(1)
            for _ in range(opts.reloads):
                stack.reload()
                stack.wait_workers()
                time.sleep(1)
            out = load.communicate(timeout=60)[0]
            failed = 0
            if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
                failed += int(m.group(1))
            if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
                failed += sum(int(x) for x in m.groups())
            kills = kill_to_answer(stack, opts.kills)
            print(f"| {stack.label()} | {rps:.0f} | {failed / opts.reloads:.1f} | "
                  f"{statistics.median(kills):.1f} / {max(kills):.1f} | {pss:.1f} |", flush=True)
        finally:
            stack.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
