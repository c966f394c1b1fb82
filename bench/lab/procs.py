"""Process bookkeeping for the lab, the same rules as bench/lib.sh.

Every process the lab starts is recorded with its start time (field 22 of
/proc/PID/stat), so a reused pid is never signalled, and stopped by pid only:
SIGTERM, SIGKILL after a grace period, then SIGKILL to any descendant that
was alive before the stop. `Registry.stop_all()` runs from a `finally` in
lab.py, which SIGINT (KeyboardInterrupt) and SIGTERM (turned into SystemExit)
both reach.
"""
import os
import signal
import subprocess
import time


def stat_fields(pid: int):
    """Fields 3.. of /proc/PID/stat (after "pid (comm) "), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            line = f.read()
    except OSError:
        return None
    return line[line.rindex(")") + 2:].split()


def start_time(pid: int):
    fields = stat_fields(pid)
    return fields[19] if fields else None


def is_zombie(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is None or fields[0] == "Z"


def parent_map() -> dict:
    """pid -> ppid for every process (one /proc scan)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = stat_fields(int(name))
            if fields:
                parents[int(name)] = int(fields[1])
    return parents


def tree(root: int) -> list:
    """ROOT and all its descendants that are alive now, ROOT first."""
    parents = parent_map()
    if root not in parents:
        return []
    children: dict = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(sorted(children.get(pid, [])))
    return found


CLK_TCK = os.sysconf("SC_CLK_TCK")


def tree_cpu_s(root: int) -> float:
    """utime+stime(+cutime+cstime, so reaped children count) over ROOT's tree, in seconds."""
    ticks = 0
    for pid in tree(root):
        fields = stat_fields(pid)
        if fields:
            ticks += sum(int(x) for x in fields[11:15])
    return ticks / CLK_TCK


def machine_busy_s() -> float:
    """Busy CPU-seconds of the whole machine so far (user nice system irq softirq steal)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK


class OtherCpu:
    """CPU-seconds the rest of the machine used while a cell ran: the
    machine's busy time minus the server's tree, the generators (our reaped
    children) and this script. Large values mean a noisy neighbour."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid
        self.start = self.sample()

    def sample(self):
        t = os.times()
        return (machine_busy_s(), tree_cpu_s(self.server_pid), t.children_user + t.children_system + t.user + t.system)

    def result(self) -> float:
        end = self.sample()
        other = (end[0] - self.start[0]) - (end[1] - self.start[1]) - (end[2] - self.start[2])
        return round(max(0.0, other), 2)


def pss_kib(pids) -> int:
    """Sum of Pss over PIDS from /proc/PID/smaps_rollup, in KiB.

    PSS splits each shared page among the processes that map it, so the sum
    over a cluster counts the shared binary and libraries once."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass   # exited between the scan and the read
    return total


class Registry:
    """The processes this lab started, stopped by pid."""

    def __init__(self, grace_s: float = 10.0):
        self.grace_s = grace_s
        self.started: dict = {}   # pid -> (start time, Popen)

    def spawn(self, argv, **kwargs) -> subprocess.Popen:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(argv, **kwargs)
        self.started[proc.pid] = (start_time(proc.pid), proc)
        return proc

    def same_process(self, pid: int) -> bool:
        entry = self.started.get(pid)
        return entry is not None and entry[0] is not None and start_time(pid) == entry[0]

    def signal_if_same(self, pid: int, recorded, sig) -> None:
        if recorded is not None and start_time(pid) == recorded and not is_zombie(pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, pid: int) -> None:
        """SIGTERM PID, SIGKILL after the grace period, then SIGKILL every
        descendant recorded before the stop that is still alive."""
        entry = self.started.pop(pid, None)
        if entry is None:
            return
        recorded, proc = entry
        kids = [(k, start_time(k)) for k in tree(pid)[1:]] if start_time(pid) == recorded else []
        self.signal_if_same(pid, recorded, signal.SIGTERM)
        try:
            proc.wait(timeout=self.grace_s)
        except subprocess.TimeoutExpired:
            print(f"[lab] pid {pid} did not stop within {self.grace_s:.0f} s of SIGTERM; sending SIGKILL", flush=True)
            self.signal_if_same(pid, recorded, signal.SIGKILL)
            proc.wait()
        for kid, kid_start in kids:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and kid_start is not None and start_time(kid) == kid_start \
                    and not is_zombie(kid):
                time.sleep(0.05)
            if kid_start is not None and start_time(kid) == kid_start and not is_zombie(kid):
                print(f"[lab] leftover child pid {kid} of {pid}; sending SIGKILL", flush=True)
                self.signal_if_same(kid, kid_start, signal.SIGKILL)

    def wait(self, pid: int, timeout: float):
        """Wait for a started process to exit; kill it past TIMEOUT. Returns its exit code."""
        recorded, proc = self.started[pid]
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal_if_same(pid, recorded, signal.SIGKILL)
            rc = proc.wait()
        del self.started[pid]
        return rc

    def stop_all(self) -> None:
        for pid in list(self.started):
            self.stop(pid)


def terminate_on_sigterm() -> None:
    """SIGTERM unwinds like an exception, so the `finally` cleanup runs."""
    def raise_exit(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, raise_exit)
