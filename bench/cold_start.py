#!/usr/bin/env python3
"""spawn -> ready of one worker (issue 16), as the supervisor measures it.

clusterd --workers 1 (--compute inline: no pool to start, unless --compute is
given); the one worker is SIGKILLed --kills times, each time after its
replacement reported ready. The supervisor logs "worker 0 (pid P) ready in X
ms" for every start: from uv_spawn (fork+exec) to the worker's ready byte.
Also: the dynamic loader's relocations at each exec of the binary
(LD_DEBUG=statistics), which every worker start pays, and --binary twice to
compare two builds in the same run (they alternate).

  bench/cold_start.py [--kills 30] [--binary build/clusterd [--binary OTHER]] [-- EXTRA CLUSTERD ARGS]
  bench/cold_start.py -- --fork-server     (workers forked by the fork server, no exec)
Every process started here is stopped by its pid.
"""

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from probe_saturated import stop  # noqa: E402  (SIGTERM by pid, then SIGKILL)


def relocations(binary):
    env = dict(os.environ, LD_DEBUG="statistics")
    out = subprocess.run([binary, "--version"], env=env, capture_output=True, text=True).stderr
    numbers = {}
    for key in ("final number of relocations", "number of relative relocations", "total startup time in dynamic loader"):
        match = re.search(re.escape(key) + r": (\d+)", out)
        numbers[key] = int(match.group(1)) if match else None
    return numbers


def is_worker(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"\0--role\0worker\0" in f.read()
    except OSError:
        return False


def children(pid):
    """The HTTP workers among pid's children (not the fork server, with --fork-server)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z" and is_worker(int(entry)):
                    found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def ready_times(log_path):
    with open(log_path, errors="replace") as f:
        return [float(x) for x in re.findall(r"worker 0 \(pid \d+\) ready in ([0-9.]+) ms", f.read())]


def wait_until(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def one_round(binary, kills, extra, tmp, tag):
    log_path = os.path.join(tmp, f"{tag}.log")
    args = [binary, "--listen", "127.0.0.1:0", "--workers", "1", "--min-uptime", "1ms", "--breaker-deaths", "1000",
            "--control-socket", os.path.join(tmp, f"{tag}.sock")]
    if "--compute" not in extra:
        args += ["--compute", "inline"]
    if os.getuid() == 0:
        args.append("--allow-root")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(args + extra, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        if not wait_until(lambda: len(ready_times(log_path)) >= 1, 20):
            raise SystemExit(f"{binary}: no worker ready within 20 s:\n" + open(log_path).read())
        for k in range(kills):
            workers = children(proc.pid)
            if not workers:
                raise SystemExit("the worker is gone")
            os.kill(workers[0], signal.SIGKILL)
            if not wait_until(lambda: len(ready_times(log_path)) >= k + 2, 20):
                raise SystemExit(f"{binary}: no replacement ready:\n" + open(log_path).read())
            time.sleep(0.05)
    finally:
        stop(proc)
    return ready_times(log_path)[1:]  # the restarts; the first start competes with the supervisor's own


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--binary", action="append")
    args = parser.parse_args(argv)
    binaries = args.binary or [os.path.join(ROOT, "build", "clusterd")]
    samples = {b: [] for b in binaries}
    with tempfile.TemporaryDirectory(prefix="clusterd-cold.") as tmp:
        for r in range(args.rounds):
            for i, binary in enumerate(binaries):
                samples[binary] += one_round(binary, args.kills, extra, tmp, f"b{i}-r{r}")
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"spawn -> ready of one worker, {args.rounds} rounds x {args.kills} restarts; load average {load}; "
          f"extra args: {' '.join(extra) or 'none'}\n")
    print("| binary | starts | p50 ms | p90 ms | min ms | max ms | relocations (symbol) | relative | loader cycles |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for binary in binaries:
        s = sorted(samples[binary])
        rel = relocations(binary)
        print(f"| {os.path.relpath(binary, ROOT)} | {len(s)} | {statistics.median(s):.2f} | "
              f"{s[int(0.9 * (len(s) - 1))]:.2f} | {s[0]:.2f} | {s[-1]:.2f} | "
              f"{rel['final number of relocations']} | {rel['number of relative relocations']} | "
              f"{rel['total startup time in dynamic loader']} |")


if __name__ == "__main__":
    main()
