#!/usr/bin/env python3
"""Worker restart latency of clusterd.

Starts its own clusterd (``--listen 127.0.0.1:0 --workers N --log-level info``),
waits for ``all N workers ready``, then REPS times: SIGKILLs one worker and
measures the time until the supervisor logs that the replacement is ready.

Latency of one repetition = timestamp of the supervisor's
``worker K (pid P') ready in X ms`` line (local wall clock, millisecond
resolution) minus the wall-clock time taken right before ``kill -9``.
Also reported, for cross-checking:
  * observed: when this script read that line from the supervisor's stderr;
  * self-reported: the X ms in the line (the supervisor's own spawn->ready).

The supervisor backs off workers that die young (less than its min uptime,
1 s by default), so the worker to kill is chosen round-robin over the slots
and is only killed once it has been ready for at least --min-age seconds:
every kill measures the immediate-respawn path, not the back-off path.

Output (stdout): a Markdown table, then one machine-readable line
``RESTART reps=.. p50_ms=.. p99_ms=.. max_ms=..``. Exit status 0 on success.
The daemon is always stopped at the end: SIGTERM, SIGKILL after 10 s, then
SIGKILL to any worker left behind.
"""

import argparse
import datetime
import math
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

LINE_RE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) \[(\w+)\] \[(supervisor|worker \d+) (\d+)\] (.*)$")
LISTEN_RE = re.compile(r"listening on (\S+):(\d+)")
READY_RE = re.compile(r"worker (\d+) \(pid (\d+)\) ready in ([\d.]+) ms")
ALL_READY_RE = re.compile(r"all (\d+) workers ready")
DEATH_RE = re.compile(r"worker (\d+) \(pid (\d+)\) (killed by \S+|exited with code -?\d+) after")


class Failure(Exception):
    pass


class Timeout(Failure):
    pass


def parse_ts(text):
    # Naive datetime -> interpreted as local time by .timestamp(), as the log is.
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").timestamp()


def proc_stat(pid):
    """(state, ppid, starttime) of pid, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            line = f.read()
    except OSError:
        return None
    rest = line[line.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def percentile(sorted_values, p):
    """Nearest-rank percentile."""
    if not sorted_values:
        return float("nan")
    k = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[k - 1]


class Daemon:
    def __init__(self, binary, workers, log_path):
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)  # keeps the timestamps in the log
        if os.geteuid() == 0:  # as root, clusterd wants to be told its workers may be root
            env["CLUSTERD_ALLOW_ROOT"] = "true"
        self.workers = workers
        self.lines = queue.Queue()
        self.log = open(log_path, "w") if log_path else None
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--workers", str(workers), "--log-level", "info"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self.pid = self.proc.pid
        self.port = None
        self.ready = {}        # slot -> pid of its current ready worker
        self.ready_at = {}     # slot -> monotonic time we saw its ready line
        self.known = {}        # worker pid -> starttime (for the final cleanup)
        self.deaths = []       # (slot, pid, how)
        self.eof = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            wall, mono = time.time(), time.monotonic()
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if self.log:
                self.log.write(line + "\n")
                self.log.flush()
            self.lines.put((wall, mono, line))
        self.lines.put(None)

    def next_event(self, deadline):
        """Next parsed supervisor line before deadline (monotonic), updating state.
        Returns (recv_wall, recv_mono, log_ts, msg) or raises Failure."""
        while True:
            if self.eof:
                raise Failure(f"clusterd exited (status {self.proc.wait()})")
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("timed out waiting for the supervisor")
            try:
                item = self.lines.get(timeout=left)
            except queue.Empty:
                raise Timeout("timed out waiting for the supervisor") from None
            if item is None:
                self.eof = True
                continue
            wall, mono, line = item
            m = LINE_RE.match(line)
            if not m or m.group(3) != "supervisor":
                continue
            ts, msg = parse_ts(m.group(1)), m.group(5)
            if (lm := LISTEN_RE.search(msg)) and self.port is None:
                self.port = int(lm.group(2))
            elif rm := READY_RE.search(msg):
                slot, pid = int(rm.group(1)), int(rm.group(2))
                self.ready[slot], self.ready_at[slot] = pid, mono
                st = proc_stat(pid)
                if st:
                    self.known[pid] = st[2]
            elif dm := DEATH_RE.search(msg):
                slot, pid = int(dm.group(1)), int(dm.group(2))
                self.deaths.append((slot, pid, dm.group(3)))
                if self.ready.get(slot) == pid:
                    del self.ready[slot]
                    del self.ready_at[slot]
            return wall, mono, ts, msg

    def wait_all_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while not (self.port and len(self.ready) == self.workers):
            self.next_event(deadline)

    def drain(self):
        """Consume lines already received, without blocking."""
        try:
            while True:
                self.next_event(time.monotonic() + 0.001)
        except Timeout:
            pass

    def children(self):
        kids = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                st = proc_stat(int(name))
                if st and st[1] == self.pid:
                    kids[int(name)] = st[2]
        return kids

    def stop(self):
        if self.proc.poll() is None:
            self.known.update(self.children())
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                print("restart_latency: clusterd ignored SIGTERM for 10 s; SIGKILL", file=sys.stderr)
                self.proc.kill()
                self.proc.wait()
        for pid, start in self.known.items():
            st = proc_stat(pid)
            if st and st[2] == start and st[0] != "Z":
                print(f"restart_latency: leftover worker pid {pid}; SIGKILL", file=sys.stderr)
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if self.log:
            self.log.close()
            self.log = None


def health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def run(args):
    d = Daemon(args.binary, args.workers, args.log)
    try:
        d.wait_all_ready(args.timeout)
        if not health(d.port):
            raise Failure("/healthz does not answer 200 after start")
        samples = []  # (log_ms, observed_ms, self_ms)
        bad_health = 0
        slots = sorted(d.ready)
        for rep in range(args.reps):
            slot = slots[rep % len(slots)]
            # Wait for a full cluster whose target worker is old enough.
            deadline = time.monotonic() + args.timeout
            while True:
                d.drain()
                if len(d.ready) == args.workers and slot in d.ready:
                    wait = args.min_age - (time.monotonic() - d.ready_at[slot])
                    if wait <= 0:
                        break
                else:
                    wait = 0.05
                if time.monotonic() + wait > deadline:
                    raise Failure(f"rep {rep}: cluster not back to {args.workers} ready workers in time")
                time.sleep(wait)
            victim = d.ready[slot]
            st = proc_stat(victim)
            if not st or st[1] != d.pid:
                raise Failure(f"rep {rep}: pid {victim} is not a child of the supervisor {d.pid}")
            t_kill = time.time()
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + args.timeout
            while True:
                wall, _, ts, msg = d.next_event(deadline)
                rm = READY_RE.search(msg)
                if rm and int(rm.group(2)) != victim and int(rm.group(1)) == slot:
                    samples.append(((ts - t_kill) * 1000.0, (wall - t_kill) * 1000.0, float(rm.group(3))))
                    break
            if not any(p == victim and how == "killed by SIGKILL" for _, p, how in d.deaths):
                d.drain()
                if not any(p == victim for _, p, _ in d.deaths):
                    print(f"restart_latency: rep {rep}: no death line seen for pid {victim}", file=sys.stderr)
            if not health(d.port):
                bad_health += 1
    finally:
        d.stop()

    def col(i):
        return sorted(s[i] for s in samples)

    rows = [("kill -9 -> ready (log timestamp)", col(0)),
            ("kill -9 -> ready line read by bench", col(1)),
            ("spawn -> ready (supervisor's own figure)", col(2))]
    print(f"Worker restart latency, {args.workers} workers, {len(samples)} x SIGKILL (ms):")
    print()
    print("| measure | p50 | p99 | max | min |")
    print("|---|---:|---:|---:|---:|")
    for name, v in rows:
        print(f"| {name} | {percentile(v, 50):.1f} | {percentile(v, 99):.1f} | {v[-1]:.1f} | {v[0]:.1f} |")
    print()
    print(f"Percentiles are nearest-rank over {len(samples)} samples; log timestamps have 1 ms resolution.")
    if bad_health:
        print(f"WARNING: /healthz failed {bad_health} time(s) right after a restart.")
    v = col(0)
    print(f"RESTART reps={len(v)} p50_ms={percentile(v, 50):.1f} p99_ms={percentile(v, 99):.1f} "
          f"max_ms={v[-1]:.1f} health_failures={bad_health}")
    return 0 if bad_health == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--binary", default=os.path.join(here, "..", "build", "clusterd"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--min-age", type=float, default=1.5,
                    help="seconds a worker must have been ready before it is killed (default 1.5)")
    ap.add_argument("--timeout", type=float, default=15.0, help="per-step timeout in seconds (default 15)")
    ap.add_argument("--log", help="write the daemon's stderr here")
    args = ap.parse_args()
    if args.workers < 1 or args.reps < 1:
        ap.error("--workers and --reps must be >= 1")

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        return run(args)
    except Failure as e:
        print(f"restart_latency: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
