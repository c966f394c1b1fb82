#!/usr/bin/env python3
"""Checks a lab run's output directory: lab.json has every configuration and
every cell (model x compute x workload, plus the peers), each with every
figure as a number, or marked skipped with a reason that is allowed; the
classic experiment ran; nothing was left behind; lab.svg is an SVG.

    bench/lab/check_lab.py OUT_DIR              # exit 0 if good, 1 with the problems
    bench/lab/check_lab.py --run-fast BINARY    # the test: lab.py --fast in a temp dir, then the check;
                                                # exit 77 (skipped) when lab.py says a peer tool is absent
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from schema import CLASSIC_FIELDS, CONFIG_FIELDS, WORKLOAD_FIELDS   # noqa: E402

MODELS = ("processes", "threads")
COMPUTES = ("inline", "threads", "processes")
PEER_WORKLOADS = {"nginx": ("hello", "crash"), "node cluster": ("hello", "crash"),
                  "node worker_threads": ("hello", "fib", "mixed"), "node inline": ("hello", "fib", "mixed")}


# Differences of two measurements, which noise may make slightly negative.
SIGNED = ("pss_per_added_worker_kib",)


def is_number(v, key="") -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (v >= 0 or key in SIGNED)


def check(out: str) -> list:
    problems = []
    with open(os.path.join(out, "lab.json")) as f:
        doc = json.load(f)
    has_model = doc["lab"]["has_model_option"]
    configs = {c["id"]: c for c in doc["configurations"]}
    cells = {(c["server"], c["workload"]): c for c in doc["cells"]}

    def check_figures(what, rec, fields, may_be_none=()):
        for k in fields:
            if k not in rec["figures"]:
                problems.append(f"{what}: no {k}")
            elif not is_number(rec["figures"][k], k) and not (k in may_be_none and rec["figures"][k] is None):
                problems.append(f"{what}: {k} = {rec['figures'][k]!r} is not a number")

    expected = [f"clusterd {m}/{c}" for m in MODELS for c in COMPUTES]
    expected_cells = [(s, w) for s in expected for w in WORKLOAD_FIELDS]
    for peer, workloads in PEER_WORKLOADS.items():
        expected.append(peer)
        expected_cells += [(peer, w) for w in workloads]
    for cid in expected:
        cfg = configs.get(cid)
        if cfg is None:
            problems.append(f"configuration {cid} missing")
        elif cfg["status"] == "skipped":
            if cid.startswith("clusterd threads/") and not has_model and "no --model" in cfg.get("reason", ""):
                continue
            problems.append(f"configuration {cid} skipped: {cfg.get('reason')}")
        else:
            check_figures(cid, cfg, CONFIG_FIELDS, may_be_none=tuple(cfg.get("not_applicable", ())))
    for server, workload in expected_cells:
        cell = cells.get((server, workload))
        what = f"cell {server} x {workload}"
        if cell is None:
            problems.append(f"{what} missing")
        elif cell["status"] == "skipped":
            if not (server.startswith("clusterd threads/") and not has_model and "no --model" in cell["reason"]):
                problems.append(f"{what} skipped: {cell['reason']}")
        else:
            # recovery_ms is None only when the unit did not come back in time, which is a finding, not a gap.
            check_figures(what, cell, WORKLOAD_FIELDS[workload],
                          may_be_none=("recovery_ms",) if cell["figures"].get("recovered") is False else ())
    if len(doc["classic"]) < 5:
        problems.append(f"classic experiment: {len(doc['classic'])} runs, expected 5")
    for r in doc["classic"]:
        for k in CLASSIC_FIELDS:
            if not is_number(r.get(k)):
                problems.append(f"classic {r.get('runtime')} {r.get('way')}: {k} = {r.get(k)!r}")
    if not doc["comparisons"]:
        problems.append("no clusterd/peer comparisons")
    if doc["leftovers"]:
        problems.append(f"left behind: {doc['leftovers']}")
    svg = os.path.join(out, "lab.svg")
    try:
        root = ET.parse(svg).getroot()
        if not root.tag.endswith("svg") or len(list(root.iter())) < 20:
            problems.append(f"{svg} is not an SVG chart (root {root.tag}, {len(list(root.iter()))} elements)")
    except (OSError, ET.ParseError) as e:
        problems.append(f"{svg}: {e}")
    return problems


def report(out: str) -> int:
    try:
        problems = check(out)
    except (OSError, ValueError, KeyError, TypeError) as e:
        problems = [f"{out}/lab.json unreadable or incomplete: {type(e).__name__}: {e}"]
    for p in problems:
        print(f"check_lab: {p}")
    print(f"check_lab: {'OK' if not problems else f'{len(problems)} problems'} ({out})")
    return 1 if problems else 0


def run_fast(binary: str) -> int:
    out = tempfile.mkdtemp(prefix="clusterd-lab-test.")
    try:
        lab = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab.py")
        rc = subprocess.run([sys.executable, lab, "--fast", "--binary", binary, "--out", out], timeout=240).returncode
        if rc == 77:
            print("check_lab: skipped: a peer tool is absent (see above)")
            return 77
        if rc != 0:
            print(f"check_lab: lab.py --fast exited {rc}")
            return 1
        return report(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--run-fast":
        return run_fast(sys.argv[2])
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    return report(sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
