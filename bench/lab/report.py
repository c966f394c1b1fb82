"""The lab's output: peer comparisons, the Markdown tables, the SVG chart."""
import os
import shutil
import subprocess

from schema import CONFIG_FIELDS, WORKLOAD_FIELDS


def peer_for(workload: str, compute: str) -> str:
    """The peer each clusterd figure is compared with: nginx for hello, Node's
    offloading pattern for CPU work (its inline server for --compute inline),
    Node's cluster for the crash and the idle figures."""
    if workload == "hello":
        return "nginx"
    if workload in ("fib", "mixed"):
        return "node inline" if compute == "inline" else "node worker_threads"
    return "node cluster"


def ratio(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and b:
        return round(a / b, 2)
    return None


def comparisons(configs, cells) -> list:
    by_cell = {(c["server"], c["workload"]): c for c in cells if c["status"] == "ok"}
    by_config = {c["id"]: c for c in configs if c.get("status") == "ok"}
    out = []
    for cfg in configs:
        if cfg["kind"] != "clusterd" or cfg.get("status") != "ok":
            continue
        peer = by_config.get(peer_for("config", cfg["compute"]))
        if peer:
            out.append({"server": cfg["id"], "workload": "config", "peer": peer["id"],
                        "ratios": {k: ratio(cfg["figures"][k], peer["figures"][k]) for k in CONFIG_FIELDS}})
        for w, fields in WORKLOAD_FIELDS.items():
            mine, theirs = by_cell.get((cfg["id"], w)), by_cell.get((peer_for(w, cfg["compute"]), w))
            if mine and theirs:
                out.append({"server": cfg["id"], "workload": w, "peer": theirs["server"],
                            "ratios": {k: ratio(mine["figures"][k], theirs["figures"][k]) for k in fields
                                       if k not in ("other_cpu_s", "units_before")}})
    return out


def cell_summary(workload: str, f: dict) -> str:
    if workload == "crash":
        rec = f"recovered in {f['recovery_ms']:.0f} ms" if f["recovery_ms"] is not None else "NOT recovered"
        return f"{f['failed_requests']} failed requests, {rec}"
    s = f"{f['throughput_rps']:.0f} req/s, p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms, {f['errors']} errors"
    if workload == "mixed":
        s += f"; probe p99 {f['probe_p99_ms']:.2f} ms"
    return s


def fmt(v, key: str) -> str:
    if v is None:
        return "-"
    if key.endswith("_kib"):
        return f"{v / 1024:.1f}"
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}"
    return str(v)


COLUMNS = {
    "config": [("startup_ms", "startup ms"), ("pss_idle_kib", "PSS idle MiB"),
               ("pss_one_unit_kib", "PSS 1 unit MiB"), ("pss_per_added_worker_kib", "MiB per added unit")],
    "hello": [("throughput_rps", "req/s"), ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("errors", "errors"),
              ("pss_kib", "PSS MiB"), ("other_cpu_s", "other CPU-s")],
    "fib": [("throughput_rps", "jobs/s"), ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("errors", "errors"),
            ("pss_kib", "PSS MiB"), ("other_cpu_s", "other CPU-s")],
    "mixed": [("probe_p50_ms", "probe p50 ms"), ("probe_p99_ms", "probe p99 ms"), ("probes", "probes"),
              ("throughput_rps", "jobs/s"), ("p99_ms", "job p99 ms"), ("errors", "errors"), ("pss_kib", "PSS MiB"),
              ("other_cpu_s", "other CPU-s")],
    "crash": [("units_before", "units"), ("failed_requests", "failed requests"), ("recovery_ms", "recovery ms"),
              ("throughput_rps", "req/s"), ("p99_ms", "p99 ms"), ("other_cpu_s", "other CPU-s")],
}

TITLES = {
    "config": "Idle: start-up and memory (PSS summed over the process tree)",
    "hello": "hello: GET / (I/O bound), {hello} connections, {s} s",
    "fib": "fib: GET /compute/fib?n={n} (CPU bound), {cpu} connections, {s} s",
    "mixed": "mixed: the fib load plus a /healthz probe every {probe} ms on its own connection",
    "crash": "crash: SIGKILL one unit (a worker process; a threads-model server's one process) {k} s into "
             "{c} connections of hello load",
}


def markdown(doc) -> str:
    lab, p = doc["lab"], doc["lab"]["parameters"]
    m = lab["machine"]
    lines = [f"## clusterd parallelism lab ({lab['mode']} run)", "",
             f"{lab['started_utc']}, {lab['duration_s']:.0f} s; `{lab['command']}`; {m['nproc']} CPUs "
             f"({m['cpu_model']}), kernel {m['kernel']}; " +
             ("`--model` supported." if lab["has_model_option"] else
              "this build has no `--model`: processes-model cells only."), "",
             f"Every clusterd configuration has the same total parallelism: {p['units']} HTTP units "
             f"(worker processes, or loop threads in one process) and {p['units']} compute executors. "
             "A clusterd figure reads `value (peer value; clusterd/peer)`. "
             f"The machine was {m['busy_cores_before']} cores busy just before the run; \"other CPU-s\" is what "
             "the rest of the machine used during a cell (busy time minus server, generators and the lab)."]
    cmp = {(c["server"], c["workload"]): c for c in doc["comparisons"]}
    cfg_by_id = {c["id"]: c for c in doc["configurations"]}
    cells = {(c["server"], c["workload"]): c for c in doc["cells"]}
    secs = {"s": p["seconds"], "n": p["fib_n"], "hello": p["hello_connections"], "cpu": p["cpu_connections"],
            "probe": p["probe_interval_ms"], "c": p["crash_connections"], "k": f"{p['crash_seconds'] / 3:.1f}"}
    for section, cols in COLUMNS.items():
        lines += ["", f"### {TITLES[section].format(**secs)}", "",
                  "| server | " + ("what | " if section == "config" else "") + " | ".join(c[1] for c in cols) + " |",
                  "|---|" + ("---|" if section == "config" else "") + "---:|" * len(cols)]
        for cfg in doc["configurations"]:
            rec = cfg if section == "config" else cells.get((cfg["id"], section))
            if rec is None:
                continue
            lead = f"| {cfg['id']} | " + (f"{cfg.get('describe', '')} | " if section == "config" else "")
            if rec["status"] != "ok":
                lines.append(lead + rec["reason"] + " |" + " |" * (len(cols) - 1))
                continue
            c = cmp.get((cfg["id"], section))
            peer = (cfg_by_id.get(c["peer"]) if section == "config" else cells.get((c["peer"], section))) if c else None
            row = []
            for key, _ in cols:
                v = fmt(rec["figures"].get(key), key)
                if peer and key in c["ratios"]:
                    r = c["ratios"][key]
                    v += f" ({c['peer']} {fmt(peer['figures'].get(key), key)}; {r if r is not None else '-'})"
                row.append(v)
            lines.append(lead + " | ".join(row) + " |")
    lines += ["", "### The classic experiment: 5 x fib(N) requested at once, single-threaded vs spread", "",
              "| runtime | way | N | wall s | speedup | best possible | first answer s | mean compute_ms | answers "
              "| other CPU-s |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in doc["classic"]:
        lines.append(f"| {r['runtime']} | {r['way']} | {r['n']} | {r['wall_s']:.2f} | {r['speedup']} | "
                     f"{r['ideal_speedup']} | {r['first_s']:.2f} | {fmt(r['mean_compute_ms'], '')} | {r['statuses']} "
                     f"| {r['other_cpu_s']} |")
    if doc["leftovers"]:
        lines += ["", f"**Left behind:** {', '.join(doc['leftovers'])}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the chart

# A title ending in "(log)" gets a logarithmic y axis from gnuplot: those
# figures span orders of magnitude between clusterd and the Node.js peers.
PANELS = [("hello", "throughput_rps", "hello: req/s"), ("fib", "throughput_rps", "fib: jobs/s (log)"),
          ("mixed", "probe_p99_ms", "health probe p99 ms under CPU load (log)"),
          ("config", "pss_idle_kib", "PSS idle, MiB"), ("crash", "failed_requests", "crash: failed requests"),
          ("crash", "recovery_ms", "crash: recovery ms")]


def short(name: str) -> str:
    return name.replace("clusterd ", "").replace("processes", "proc").replace("threads", "thr") \
               .replace("node worker_thr", "node wt")


def panel_data(doc):
    cells = {(c["server"], c["workload"]): c for c in doc["cells"] if c["status"] == "ok"}
    panels = []
    for workload, key, title in PANELS:
        bars = []
        for cfg in doc["configurations"]:
            rec = (cfg if cfg.get("status") == "ok" else None) if workload == "config" \
                else cells.get((cfg["id"], workload))
            v = rec["figures"].get(key) if rec else None
            if isinstance(v, (int, float)):
                bars.append((short(cfg["id"]), v / 1024 if key.endswith("_kib") else v, cfg["kind"]))
        panels.append((title, bars))
    return panels


def chart(doc, out: str) -> str:
    path = os.path.join(out, "lab.svg")
    panels = panel_data(doc)
    if shutil.which("gnuplot"):
        gnuplot_chart(doc, panels, out, path)
    else:
        svg_chart(doc, panels, path)
    return path


def chart_title(doc) -> str:
    lab = doc["lab"]
    note = "" if lab["has_model_option"] else "; threads-model cells skipped: this build has no --model"
    return (f"clusterd parallelism lab, {lab['mode']} run, {lab['started_utc']}, {lab['machine']['nproc']} CPUs"
            f"{note}; blue clusterd, orange peers")


def gnuplot_chart(doc, panels, out, path) -> None:
    script = [f"set terminal svg size 1500,900 dynamic font 'sans,11'", f"set output '{path}'",
              "set style fill solid 0.8 border -1", "set boxwidth 0.7", "set grid ytics", "set yrange [0:*]",
              "set xtics rotate by -35 left", "unset key", "set offsets 0.3, 0.3, graph 0.1, 0",
              f"set multiplot layout 2,3 title '{chart_title(doc)}'"]
    for i, (title, bars) in enumerate(panels):
        data = os.path.join(out, f"chart-{i}.dat")
        with open(data, "w") as f:
            for label, v, kind in bars:
                f.write(f"\"{label}\" {v} {1 if kind == 'clusterd' else 2}\n")
        script.append(f"set title '{title}'")
        script += ["set logscale y", "set yrange [*:*]"] if title.endswith("(log)") else \
            ["unset logscale y", "set yrange [0:*]"]
        if bars:
            script.append(f"plot '{data}' using 0:2:($3 == 1 ? 0x1f77b4 : 0xff7f0e):xtic(1) with boxes lc rgb variable")
        else:
            script += ["set label 1 'no data' at graph 0.45, graph 0.5", "plot 0 with lines lc rgb 'white'",
                       "unset label 1"]
    script.append("unset multiplot")
    with open(os.path.join(out, "chart.gp"), "w") as f:
        f.write("\n".join(script) + "\n")
    subprocess.run(["gnuplot", os.path.join(out, "chart.gp")], check=True, timeout=60)


def svg_chart(doc, panels, path) -> None:
    """The same six panels, drawn here when gnuplot is absent."""
    w, h, cols = 480, 400, 3
    esc = lambda s: str(s).replace("&", "&amp;").replace("<", "&lt;")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * cols}" height="{h * 2 + 40}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="10" y="20" font-size="14">{esc(chart_title(doc))}</text>']
    for i, (title, bars) in enumerate(panels):
        x0, y0 = (i % cols) * w + 50, (i // cols) * h + 60
        pw, ph = w - 80, h - 150
        parts.append(f'<text x="{x0}" y="{y0 - 8}" font-size="12">{esc(title)}</text>')
        parts.append(f'<line x1="{x0}" y1="{y0 + ph}" x2="{x0 + pw}" y2="{y0 + ph}" stroke="black"/>')
        top = max((b[1] for b in bars), default=0) or 1
        bw = pw / max(1, len(bars))
        for j, (label, v, kind) in enumerate(bars):
            bh = ph * v / top
            bx = x0 + j * bw + bw * 0.15
            color = "#1f77b4" if kind == "clusterd" else "#ff7f0e"
            parts.append(f'<rect x="{bx:.1f}" y="{y0 + ph - bh:.1f}" width="{bw * 0.7:.1f}" height="{bh:.1f}" '
                         f'fill="{color}"/>')
            parts.append(f'<text x="{bx:.1f}" y="{y0 + ph - bh - 3:.1f}" font-size="9">{v:.4g}</text>')
            parts.append(f'<text transform="translate({bx + 4:.1f},{y0 + ph + 10}) rotate(35)">{esc(label)}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")
