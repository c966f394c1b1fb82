"""The workloads of the lab, each bounded in time, against a started server.

Load comes from wrk (bench/wrk_report.lua prints the BENCH line parsed here;
bench/wrk_probe.lua paces the health probe), the classic experiment's burst
from bench/fib_burst.py. Every generator runs under the registry and under
`timeout`, and is killed past its bound.
"""
import os
import re
import signal
import subprocess
import threading
import time

from procs import pss_kib, start_time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)


class Wrk:
    """One wrk run in the background: start(), then result() parses its BENCH line."""

    def __init__(self, registry, workdir, tag, url, seconds, connections, script="wrk_report.lua", env=None):
        self.registry, self.tag, self.seconds = registry, tag, seconds
        self.out_path = os.path.join(workdir, f"{tag}.wrk.txt")
        self.argv = ["timeout", "-k", "5", str(seconds + 30), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                     "--timeout", "10s", "--latency", "-s", os.path.join(BENCH, script), url]
        self.env = dict(os.environ, **(env or {}))
        self.proc = None

    def start(self) -> "Wrk":
        with open(self.out_path, "w") as out:
            self.proc = self.registry.spawn(self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        return self

    def result(self) -> dict:
        rc = self.registry.wait(self.proc.pid, timeout=self.seconds + 40)
        with open(self.out_path) as f:
            text = f.read()
        m = re.search(r"^BENCH (.*)$", text, re.M)
        if rc != 0 or not m:
            raise RuntimeError(f"wrk {self.tag} failed (exit {rc}):\n{text[-1500:]}")
        v = {k: int(x) for k, x in (kv.split("=") for kv in m.group(1).split())}
        socket_errors = v["errors_connect"] + v["errors_read"] + v["errors_write"] + v["errors_timeout"]
        secs = v["duration_us"] / 1e6
        return {
            "requests": v["requests"],
            "throughput_rps": round((v["requests"] - v["errors_status"]) / secs, 1),
            "p50_ms": v["p50_us"] / 1000.0,
            "p99_ms": v["p99_us"] / 1000.0,
            "max_ms": v["max_us"] / 1000.0,
            "non_2xx": v["errors_status"],
            "socket_errors": socket_errors,
            "errors": socket_errors + v["errors_status"],
        }


def sample_pss_during(server, delay_s: float):
    """PSS of the server's process tree, taken DELAY_S from now (while loaded)."""
    holder = {}

    def take():
        time.sleep(delay_s)
        holder["pss_kib"] = pss_kib(server.pids())
    t = threading.Thread(target=take, daemon=True)
    t.start()
    return lambda: (t.join(), holder.get("pss_kib"))[1]


def load(registry, workdir, server, tag, path, seconds, connections) -> dict:
    """Closed-loop wrk load on PATH: throughput, latency, PSS under load."""
    pss = sample_pss_during(server, seconds * 0.8)
    r = Wrk(registry, workdir, tag, server.url(path), seconds, connections).start().result()
    r["pss_kib"] = pss()
    return r


def mixed(registry, workdir, server, tag, fib_n, seconds, connections, probe_interval_ms) -> dict:
    """CPU load (fib on CONNECTIONS connections) with a paced /healthz probe on
    its own connection: the probe's latency is the health check's under CPU
    saturation. On one keep-alive connection a probe would wait behind the
    fib before it, whatever the server does, so it gets its own."""
    pss = sample_pss_during(server, seconds * 0.8)
    cpu = Wrk(registry, workdir, tag, server.url(f"/compute/fib?n={fib_n}"), seconds, connections).start()
    probe = Wrk(registry, workdir, tag + ".probe", server.url("/healthz"), seconds, 1, script="wrk_probe.lua",
                env={"PROBE_INTERVAL_MS": str(probe_interval_ms)}).start()
    r = cpu.result()
    p = probe.result()
    r.update({"probe_p50_ms": p["p50_ms"], "probe_p99_ms": p["p99_ms"], "probe_max_ms": p["max_ms"],
              "probes": p["requests"], "probe_errors": p["errors"], "pss_kib": pss()})
    return r


def crash(registry, workdir, server, tag, seconds, connections, kill_after_s, recovery_timeout_s) -> dict:
    """Keep-alive hello load; KILL_AFTER_S in, SIGKILL one unit (a worker
    process; the one process of a threads-model server) and poll until the
    server is at full capacity again. The blast radius is the requests wrk
    saw fail (reset connections, timeouts, non-2xx) in the run."""
    units = server.units_pids()
    if not units:
        raise RuntimeError(f"{server.name}: no unit to kill")
    victim = units[0]
    victim_start = start_time(victim)
    w = Wrk(registry, workdir, tag, server.url("/"), seconds, connections).start()
    time.sleep(kill_after_s)
    if start_time(victim) != victim_start:
        raise RuntimeError(f"{server.name}: unit {victim} exited before the kill")
    t_kill = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    recovery_ms = None
    while time.monotonic() - t_kill < recovery_timeout_s:
        if server.recovered(victim):
            recovery_ms = (time.monotonic() - t_kill) * 1000.0
            break
        time.sleep(0.005)
    r = w.result()
    return {"throughput_rps": r["throughput_rps"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
            "failed_requests": r["errors"], "recovery_ms": recovery_ms, "units_before": len(units),
            "requests": r["requests"]}


def burst(registry, workdir, server, tag, n, k, timeout_s) -> dict:
    """K x fib(N) released at once (bench/fib_burst.py): wall time to the last answer."""
    out_path = os.path.join(workdir, f"{tag}.burst.txt")
    argv = ["timeout", "-k", "5", str(int(timeout_s) + 20), "python3", os.path.join(BENCH, "fib_burst.py"),
            "--url", server.url(f"/compute/fib?n={n}"), "--k", str(k), "--timeout", str(timeout_s)]
    with open(out_path, "w") as out:
        proc = registry.spawn(argv, stdout=out, stderr=subprocess.STDOUT)
    rc = registry.wait(proc.pid, timeout=timeout_s + 30)
    with open(out_path) as f:
        text = f.read()
    m = re.search(r"^BURST (.*)$", text, re.M)
    if not m:
        raise RuntimeError(f"fib_burst {tag} failed (exit {rc}):\n{text[-1500:]}")
    v = dict(kv.split("=", 1) for kv in m.group(1).split())
    ms = [float(x) for x in re.findall(r"compute_ms=([0-9.]+)", text)]
    return {"wall_s": float(v["wall_s"]), "first_s": float(v["first_s"]), "ok": int(v["ok"]), "k": k,
            "mean_compute_ms": round(sum(ms) / len(ms), 1) if ms else None, "statuses": v["statuses"]}
