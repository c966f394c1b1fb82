#!/usr/bin/env python3
"""/healthz latency while every compute executor is saturated (issue 16).

clusterd runs with its *default* executor counts (no --workers, no
--compute-threads, no --compute-processes), once per variant of
--compute-policy / --compute-nice, for --compute=threads and processes; Node's
worker_threads (bench/peers/worker_threads_fib.js, as many threads as CPUs)
runs in the same rounds for reference. Each server is started in a session of
its own (setsid: its own scheduler autogroup, as a systemd service has).

Per run, for --duration seconds at the same time:
  * load:  wrk -t1 -c8 on /compute/fib?n=FIB (more jobs than executors, so
           every executor stays busy and jobs wait in the queue);
  * probe: wrk -t1 -c1 on /healthz, paced by bench/wrk_probe.lua (one probe
           every 10 ms, like a health checker), in a process of its own.
Reported: probe p50/p99/max (ms), jobs/s, non-2xx, and the executors the
server reported in /status. The variants alternate within a round; --rounds
rounds; the table shows each run and the median p99 per variant.

  bench/probe_saturated.py [--duration 8] [--rounds 2] [--fib 32]
      [--variants batch,idle,other,other+nice10,batch+nice10] [--modes threads,processes]
Every process started here is stopped by its pid; loads are bounded by wrk -d.
"""

import argparse
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
CLUSTERD = os.environ.get("CLUSTERD", os.path.join(BUILD, "clusterd"))
NODE_PEER = os.path.join(ROOT, "bench", "peers", "worker_threads_fib.js")
PROBE_LUA = os.path.join(ROOT, "bench", "wrk_probe.lua")
REPORT_LUA = os.path.join(ROOT, "bench", "wrk_report.lua")


def bench_line(text):
    for line in text.splitlines():
        if line.startswith("BENCH "):
            return {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    return None


def wait_for(path, pattern, proc, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with open(path, errors="replace") as f:
                match = re.search(pattern, f.read())
            if match:
                return match
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    with open(path, errors="replace") as f:
        sys.stderr.write(f.read())
    raise SystemExit(f"server did not log {pattern!r} within {seconds} s")


def get(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def stop(proc):
    """SIGTERM to the server (its pid, which leads its own session), then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_clusterd(mode, variant, log):
    policy, _, nice = variant.partition("+nice")
    args = [CLUSTERD, "--listen", "127.0.0.1:0", "--compute", mode, "--compute-policy", policy,
            "--log-level", "info"]
    if nice:
        args += ["--compute-nice", nice]
    if os.getuid() == 0:
        args.append("--allow-root")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    port = int(wait_for(log.name, r"listening on 127\.0\.0\.1:(\d+)", proc).group(1))
    wait_for(log.name, r"all \d+ workers ready", proc)
    time.sleep(0.3)  # compute processes report ready on their own
    status = json.loads(get(f"http://127.0.0.1:{port}/status"))
    executors = status["compute"].get("executors", {})
    return proc, port, f"{executors.get('total', '?')} ({executors.get('per_worker', '?')}/worker)"


def start_node(log):
    threads = str(os.cpu_count() or 1)
    proc = subprocess.Popen(["node", NODE_PEER, "--port", "0", "--workers", threads], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log, start_new_session=True)
    port = int(wait_for(log.name, r"listening on [0-9.]+:(\d+)", proc).group(1))
    return proc, port, f"{threads} threads"


def measure(port, duration, fib):
    env = dict(os.environ, PROBE_INTERVAL_MS="10")
    load = subprocess.Popen(["wrk", "-t1", "-c8", f"-d{duration}s", "--timeout", "20s", "-s", REPORT_LUA,
                             f"http://127.0.0.1:{port}/compute/fib?n={fib}"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)  # the executors are busy before the first probe
    probe = subprocess.run(["wrk", "-t1", "-c1", f"-d{duration - 1}s", "--timeout", "10s", "-s", PROBE_LUA,
                            f"http://127.0.0.1:{port}/healthz"], stdout=subprocess.PIPE, text=True, env=env,
                           check=False, timeout=duration + 30)
    load_out, _ = load.communicate(timeout=duration + 30)
    p, l = bench_line(probe.stdout), bench_line(load_out)
    if not p or not l:
        raise SystemExit(f"wrk gave no BENCH line:\n{probe.stdout}\n{load_out}")
    return {
        "probe_p50": p["p50_us"] / 1000, "probe_p99": p["p99_us"] / 1000, "probe_max": p["max_us"] / 1000,
        "probes": p["requests"], "jobs_s": l["requests"] / (l["duration_us"] / 1e6),
        "non2xx": l["errors_status"] + p["errors_status"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fib", type=int, default=32)
    parser.add_argument("--modes", default="threads,processes")
    parser.add_argument("--variants", default="batch,idle,other,other+nice10,batch+nice10")
    parser.add_argument("--no-node", action="store_true")
    args = parser.parse_args()
    if not os.access(CLUSTERD, os.X_OK):
        raise SystemExit(f"no clusterd at {CLUSTERD}: build it first (cmake --build --preset release)")
    have_node = not args.no_node and subprocess.run(["node", "--version"], capture_output=True).returncode == 0
    runs = []
    with tempfile.TemporaryDirectory(prefix="clusterd-probe.") as tmp:
        for round_ in range(args.rounds):
            cells = [(m, v) for m in args.modes.split(",") for v in args.variants.split(",")]
            if have_node:
                cells.append(("node", "worker_threads"))
            for mode, variant in cells:
                with open(os.path.join(tmp, f"{mode}-{variant}-{round_}.log"), "w+") as log:
                    proc, port, executors = (start_node(log) if mode == "node"
                                             else start_clusterd(mode, variant, log))
                    try:
                        result = measure(port, args.duration, args.fib)
                    finally:
                        stop(proc)
                result.update(mode=mode, variant=variant, executors=executors, round=round_ + 1)
                runs.append(result)
                print(f"round {round_ + 1} {mode:9} {variant:14} executors {executors:14} "
                      f"p50 {result['probe_p50']:.2f} p99 {result['probe_p99']:.2f} max {result['probe_max']:.2f} ms "
                      f"jobs/s {result['jobs_s']:.0f} non-2xx {result['non2xx']}", file=sys.stderr, flush=True)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"\n{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{os.cpu_count()} CPUs, Linux {platform.release()}, load average at the end {' '.join(load)}; "
          f"`bench/probe_saturated.py --duration {args.duration} --rounds {args.rounds} --fib {args.fib}`\n")
    print("| server | variant | executors | probe p99 ms (each round) | median p99 | probe p50 / max ms | jobs/s | non-2xx |")
    print("|---|---|---|---|---:|---|---:|---:|")
    seen = []
    for r in runs:
        if (r["mode"], r["variant"]) not in seen:
            seen.append((r["mode"], r["variant"]))
    for mode, variant in seen:
        mine = [r for r in runs if r["mode"] == mode and r["variant"] == variant]
        server = "Node worker_threads" if mode == "node" else f"clusterd --compute={mode}"
        print(f"| {server} | {variant} | {mine[0]['executors']} | "
              f"{', '.join('%.2f' % r['probe_p99'] for r in mine)} | "
              f"**{statistics.median(r['probe_p99'] for r in mine):.2f}** | "
              f"{statistics.median(r['probe_p50'] for r in mine):.2f} / {max(r['probe_max'] for r in mine):.2f} | "
              f"{statistics.median(r['jobs_s'] for r in mine):.0f} | {sum(r['non2xx'] for r in mine)} |")


if __name__ == "__main__":
    main()
