#!/usr/bin/env python3
"""The parallelism lab (issue 5): clusterd's serving model x compute executor
x worker count, with the same total parallelism, under four workloads, next
to Node.js and nginx peers in the same run; then the classic "five fib(N)
tasks" experiment. Markdown on stdout, lab.json and lab.svg in --out.

    bench/lab/lab.py                  # the full lab, ~5 min on 2 cores
    bench/lab/lab.py --fast --out D   # every cell with 1 s loads (the test)

See bench/README.md ("The parallelism lab") for what each figure means.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure   # noqa: E402
import report    # noqa: E402
from procs import OtherCpu, Registry, machine_busy_s, pss_kib, terminate_on_sigterm   # noqa: E402
from schema import CONFIG_FIELDS, WORKLOADS   # noqa: E402
from servers import ROOT, Clusterd, Nginx, NodePeer   # noqa: E402

MODELS = ("processes", "threads")
COMPUTES = ("inline", "threads", "processes")
NO_MODEL = "skipped: this build has no --model"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fast", action="store_true", help="1 s loads, tiny fib: checks every cell, measures nothing")
    p.add_argument("--out", help="directory for lab.json, lab.svg, lab.md and raw output (default: a temp dir, kept)")
    p.add_argument("--binary", default=os.path.join(ROOT, "build", "clusterd"))
    p.add_argument("--node", default=shutil.which("node") or shutil.which("nodejs") or "node")
    p.add_argument("--units", type=int, default=2, help="HTTP workers (or loops), and compute executors in total")
    p.add_argument("--seconds", type=int, help="each load's duration [8; fast 1]")
    p.add_argument("--warmup", type=int, help="seconds of hello load before the measured runs [2; fast 0]")
    p.add_argument("--fib-n", type=int, help="the CPU-bound request's n [32; fast 20]")
    p.add_argument("--classic-n-node", type=int, help="the classic experiment's fib(n) in Node.js [38; fast 22]")
    p.add_argument("--classic-n-clusterd", type=int, help="... and in clusterd (faster per call) [43; fast 25]")
    p.add_argument("--max-minutes", type=float, help="bound of the whole lab [15; fast 2]")
    p.add_argument("--no-peers", action="store_true", help="clusterd only")
    p.add_argument("--quiet-wait", type=float, default=0,
                   help="seconds to wait, before starting, for the machine to be under 0.2 cores busy [0]")
    a = p.parse_args()
    fast = a.fast
    for name, full, quick in (("seconds", 8, 1), ("warmup", 2, 0), ("fib_n", 32, 20), ("classic_n_node", 38, 22),
                              ("classic_n_clusterd", 43, 25), ("max_minutes", 15.0, 2.0)):
        if getattr(a, name) is None:
            setattr(a, name, quick if fast else full)
    return a


class Lab:
    def __init__(self, args, out):
        self.a, self.out = args, out
        self.registry = Registry()
        self.t0 = time.monotonic()
        self.deadline = self.t0 + args.max_minutes * 60
        self.configs, self.cells, self.classic, self.leftovers = [], [], [], []
        self.has_model = self.detect_model()
        self.steps_done, self.steps_total = 0, 0

    def detect_model(self) -> bool:
        out = subprocess.run([self.a.binary, "--help"], capture_output=True, text=True, timeout=10)
        return "--model" in out.stdout

    # ------------------------------------------------------------ progress

    def progress(self, what: str) -> None:
        self.steps_done += 1
        el = time.monotonic() - self.t0
        print(f"[lab {time.strftime('%H:%M:%S')}] {self.steps_done}/{self.steps_total} {what} "
              f"(elapsed {el:.0f} s)", file=sys.stderr, flush=True)
        if time.monotonic() > self.deadline:
            raise RuntimeError(f"the lab exceeded its bound of {self.a.max_minutes} min")

    # ------------------------------------------------------------ servers

    def clusterd(self, model, compute, units, executors, label="") -> Clusterd:
        return Clusterd(self.registry, self.out, 20, self.a.binary, model, compute, units, executors, label)

    def peers(self):
        """(peer id, server factory taking a unit count, the workloads it serves)."""
        n = self.a.node
        mk = lambda script, name, what: (lambda units: NodePeer(self.registry, self.out, 20, n, script, name, units,
                                                                what.format(units=units)))
        return [
            ("nginx", lambda units: Nginx(self.registry, self.out, 20, units), ("hello", "crash")),
            ("node cluster", mk("cluster_hello.js", "node cluster", "{units} cluster worker processes, fib inline"),
             ("hello", "crash")),
            ("node worker_threads", mk("worker_threads_fib.js", "node worker_threads",
                                       "1 process: loop + {units} fib threads"), ("hello", "fib", "mixed")),
            ("node inline", mk("inline.js", "node inline", "1 process, 1 thread, fib on the loop"),
             ("hello", "fib", "mixed")),
        ]

    # ------------------------------------------------------------ one configuration

    def run_config(self, cid, factory, workloads, record) -> None:
        """Idle figures (1 unit, then UNITS units), then each workload on the
        UNITS-unit server; the server is stopped before returning."""
        a = self.a
        scales = cid != "node inline"   # one thread whatever it is told: no unit to add
        pss_one = None
        if scales:
            one = factory(1)
            one.start()
            time.sleep(0.2)   # let start-up allocations settle before PSS
            pss_one = pss_kib(one.pids())
            one.stop()
            if isinstance(one, Clusterd):
                self.leftovers += one.leftovers()
        server = factory(a.units)
        server.start()
        time.sleep(0.2)
        pss_full = pss_kib(server.pids())
        record.update({"describe": server.describe(), "status": "ok", "figures": {
            "startup_ms": round(server.startup_ms, 1), "pss_idle_kib": pss_full,
            "pss_one_unit_kib": pss_one if scales else pss_full,
            "pss_per_added_worker_kib": round((pss_full - pss_one) / max(1, a.units - 1)) if scales else None,
        }})
        if not scales:
            record["not_applicable"] = ["pss_per_added_worker_kib"]
        self.progress(f"{cid}: started in {server.startup_ms:.0f} ms, {pss_full / 1024:.1f} MiB PSS idle")
        try:
            if a.warmup:
                measure.load(self.registry, self.out, server, f"{server.tag()}.warmup", "/", a.warmup, 64)
            for w in workloads:
                self.cells.append(self.run_cell(cid, server, w))
        finally:
            server.stop()
            if isinstance(server, Clusterd):
                self.leftovers += server.leftovers()

    def crash_seconds(self) -> int:
        """The crash run: a third before the kill, two thirds to recover in."""
        return 2 if self.a.fast else max(self.a.seconds, 3)

    def run_cell(self, cid, server, workload) -> dict:
        a, tag = self.a, f"{server.tag()}.{workload}"
        other = OtherCpu(server.pid)
        if workload == "hello":
            f = measure.load(self.registry, self.out, server, tag, "/", a.seconds, 64)
        elif workload == "fib":
            f = measure.load(self.registry, self.out, server, tag, f"/compute/fib?n={a.fib_n}", a.seconds, 8)
        elif workload == "mixed":
            f = measure.mixed(self.registry, self.out, server, tag, a.fib_n, a.seconds, 8, 10)
        else:
            crash_s = self.crash_seconds()
            f = measure.crash(self.registry, self.out, server, tag, crash_s, 32, kill_after_s=crash_s / 3,
                              recovery_timeout_s=crash_s * 2 / 3 - 0.2)
        f["recovered"] = f.get("recovery_ms") is not None if workload == "crash" else None
        # With a crash, the killed unit's CPU time is lost from the tree and counts as "other".
        f["other_cpu_s"] = other.result()
        self.progress(f"{cid} x {workload}: {report.cell_summary(workload, f)}")
        return {"server": cid, "workload": workload, "status": "ok", "figures": f}

    # ------------------------------------------------------------ the matrix

    def run_matrix(self) -> None:
        a = self.a
        plan = []
        for model in MODELS:
            for compute in COMPUTES:
                cid = f"clusterd {model}/{compute}"
                rec = {"id": cid, "kind": "clusterd", "model": model, "compute": compute, "units": a.units,
                       "executors": a.units}
                self.configs.append(rec)
                if model == "threads" and not self.has_model:
                    rec.update({"status": "skipped", "reason": NO_MODEL, "figures": {k: None for k in CONFIG_FIELDS},
                                "describe": self.clusterd(model, compute, a.units, a.units).describe()})
                    self.cells += [{"server": cid, "workload": w, "status": "skipped", "reason": NO_MODEL,
                                    "figures": {}} for w in WORKLOADS]
                    continue
                plan.append((cid, (lambda m, c: lambda u: self.clusterd(m, c, u, a.units))(model, compute),
                             WORKLOADS, rec))
        if not a.no_peers:
            for pid, factory, workloads in self.peers():
                rec = {"id": pid, "kind": "peer", "units": a.units}
                self.configs.append(rec)
                plan.append((pid, factory, workloads, rec))
        self.steps_total = sum(1 + len(p[2]) for p in plan) + 5
        for cid, factory, workloads, rec in plan:
            self.run_config(cid, factory, workloads, rec)

    # ------------------------------------------------------------ the classic experiment

    def run_classic(self) -> None:
        """Five fib(N) tasks at once: single-threaded vs spread over UNITS executors."""
        a, k = self.a, 5
        runs = [("clusterd", "single-threaded (1 worker, --compute inline)", a.classic_n_clusterd,
                 lambda: self.clusterd("processes", "inline", 1, 1, " classic")),
                ("clusterd", f"spread over {a.units} compute threads", a.classic_n_clusterd,
                 lambda: self.clusterd("processes", "threads", 1, a.units, " classic")),
                ("clusterd", f"spread over {a.units} compute processes", a.classic_n_clusterd,
                 lambda: self.clusterd("processes", "processes", 1, a.units, " classic"))]
        if not a.no_peers:
            runs += [("node", "single-threaded (inline.js)", a.classic_n_node,
                      lambda: NodePeer(self.registry, self.out, 20, a.node, "inline.js", "node inline classic", 1, "")),
                     ("node", f"spread over {a.units} worker_threads", a.classic_n_node,
                      lambda: NodePeer(self.registry, self.out, 20, a.node, "worker_threads_fib.js",
                                       "node worker_threads classic", a.units, ""))]
        single = {}
        for runtime, way, n, factory in runs:
            server = factory()
            server.start()
            try:
                other = OtherCpu(server.pid)
                r = measure.burst(self.registry, self.out, server, f"{server.tag()}.classic", n, k, 300)
                r["other_cpu_s"] = other.result()
            finally:
                server.stop()
                if isinstance(server, Clusterd):
                    self.leftovers += server.leftovers()
            single.setdefault(runtime, r["wall_s"])
            # Executors run the K jobs in rounds of UNITS: the best speedup is K / ceil(K / UNITS).
            executors = 1 if way.startswith("single") else a.units
            r.update({"runtime": runtime, "way": way, "n": n, "ideal_speedup": round(k / -(-k // executors), 2),
                      "speedup": round(single[runtime] / r["wall_s"], 2) if r["wall_s"] > 0 else None})
            self.classic.append(r)
            self.progress(f"classic: {runtime} {way}: {k} x fib({n}) in {r['wall_s']:.2f} s")

    # ------------------------------------------------------------ output

    def document(self, started) -> dict:
        try:
            with open("/proc/cpuinfo") as f:
                model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "unknown")
        except OSError:
            model = "unknown"
        a = self.a
        return {
            "lab": {"version": 1, "mode": "fast" if a.fast else "full", "started_utc": started,
                    "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    "duration_s": round(time.monotonic() - self.t0, 1), "command": " ".join(sys.argv),
                    "machine": {"nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
                                "busy_cores_before": self.busy_before},
                    "clusterd_binary": a.binary, "has_model_option": self.has_model,
                    "parameters": {"units": a.units, "seconds": a.seconds, "warmup": a.warmup, "fib_n": a.fib_n,
                                   "classic_n_node": a.classic_n_node, "classic_n_clusterd": a.classic_n_clusterd,
                                   "hello_connections": 64, "cpu_connections": 8, "crash_connections": 32,
                                   "probe_interval_ms": 10, "crash_seconds": self.crash_seconds()}},
            "configurations": self.configs,
            "cells": self.cells,
            "comparisons": report.comparisons(self.configs, self.cells),
            "classic": self.classic,
            "leftovers": self.leftovers,
        }


def main() -> int:
    args = parse_args()
    args.binary = os.path.abspath(args.binary)
    for tool in ("wrk", "timeout"):
        if not shutil.which(tool):
            print(f"lab: {tool} not found (scripts/install-deps.sh bench)", file=sys.stderr)
            return 2
    if not os.access(args.binary, os.X_OK):
        print(f"lab: no clusterd binary at {args.binary} (cmake --build --preset release)", file=sys.stderr)
        return 2
    if not args.no_peers:
        missing = [t for t in ("nginx", args.node) if not shutil.which(t)]
        if missing:
            print(f"lab: peer tools missing: {' '.join(missing)} (scripts/install-deps.sh bench), "
                  "or run with --no-peers", file=sys.stderr)
            return 77
    # Absolute: the servers run with the output directory as their working directory.
    out = os.path.abspath(args.out or tempfile.mkdtemp(prefix="clusterd-lab."))
    os.makedirs(out, exist_ok=True)
    terminate_on_sigterm()
    quiet_deadline = time.monotonic() + args.quiet_wait
    while True:
        b0 = machine_busy_s()
        time.sleep(1)
        busy_before = round(machine_busy_s() - b0, 2)
        if busy_before <= 0.2 or time.monotonic() >= quiet_deadline:
            break
        print(f"[lab] waiting for a quiet machine: {busy_before} cores busy", file=sys.stderr, flush=True)
        time.sleep(4)
    if busy_before > 0.2:
        print(f"[lab] warning: the machine was {busy_before} cores busy before the run; figures will be disturbed",
              file=sys.stderr)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    lab = Lab(args, out)
    lab.busy_before = busy_before
    print(f"[lab] {'fast' if args.fast else 'full'} run, output in {out}; --model "
          f"{'supported' if lab.has_model else 'absent: threads-model cells skipped'}", file=sys.stderr, flush=True)
    try:
        lab.run_matrix()
        lab.run_classic()
    except KeyboardInterrupt:
        print("[lab] interrupted; stopping what it started", file=sys.stderr)
        return 130
    finally:
        lab.registry.stop_all()
    doc = lab.document(started)
    with open(os.path.join(out, "lab.json"), "w") as f:
        json.dump(doc, f, indent=2)
    markdown = report.markdown(doc)
    with open(os.path.join(out, "lab.md"), "w") as f:
        f.write(markdown)
    chart = report.chart(doc, out)
    print(markdown)
    print(f"[lab] {os.path.join(out, 'lab.json')}, {chart}, {os.path.join(out, 'lab.md')}", file=sys.stderr)
    if doc["leftovers"]:
        print(f"[lab] error: left behind: {', '.join(doc['leftovers'])}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
