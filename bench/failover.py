#!/usr/bin/env python3
"""Failover: SIGKILL of the serving worker -> first response served by its replacement.

Four stacks in one run, each with one serving worker on 127.0.0.1:
  * clusterd --workers 1 --spares 1 --worker-id-header: a hot spare is promoted;
  * clusterd --workers 1 --worker-id-header: the dead slot is respawned (fork+exec);
  * the same with --fork-server: the dead slot is respawned by the fork server (fork, no exec);
  * Node's cluster (bench/peers/cluster_reload_primary.js + exec_app.js, X-Pid header),
    for reference: the primary forks a replacement.

One sample: wait until the stack is whole (its spare ready, the victim older than
clusterd's --min-uptime so the respawn path is the immediate one), take the serving
worker's id (X-Clusterd-Worker: <slot>-<generation>, or Node's X-Pid), SIGKILL its pid,
then send GET /healthz on fresh connections, one after another, until one is answered
by another worker: kill -> that answer is the sample. A request sent into the gap waits
in the listening socket's queue (clusterd's supervisor holds it), so the sample ends when
the replacement serves. Node's primary accepts connections itself and hands them to its
workers round-robin: one handed to the dying worker is never answered, so every request
gives up after 100 ms and the next one goes on a fresh connection (the sample's grain for
Node; a clusterd request is never handed to a dead worker).

Also, for clusterd with a spare: the spare's PSS and a serving worker's
(/proc/PID/smaps_rollup), and the CPU time (utime+stime, /proc/PID/stat) both use
over --idle seconds of no traffic.

  bench/failover.py [--kills 20] [--idle 10] [--binary build/clusterd]

Every process started here is stopped by its pid at the end; loads are bounded
(one request at a time, --kills samples, a 5 s deadline per sample).
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PRIMARY = os.path.join(HERE, "peers", "cluster_reload_primary.js")
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(port, header, timeout=0.1):
    """One GET /healthz on a fresh connection: the value of `header` in a 200, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(REQUEST)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    return None
                data += chunk
    except OSError:
        return None
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    if not head[0].startswith("HTTP/1.1 200"):
        return None
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == header.lower():
            return value.strip()
    return None


def http_json(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kib(pid):
    """PSS, private (USS) and RSS of pid in KiB, from /proc/PID/smaps_rollup."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                fields[name] = int(rest.split()[0])
    return {"pss": fields.get("Pss", 0), "uss": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0),
            "rss": fields.get("Rss", 0)}


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


class Clusterd:
    header = "X-Clusterd-Worker"

    def __init__(self, binary, spares, work, fork_server=False):
        self.port = free_port()
        self.spares = spares
        tag = f"spares{spares}" + ("-fork" if fork_server else "")
        args = [binary, "--listen", f"127.0.0.1:{self.port}", "--workers", "1", "--spares", str(spares),
                "--worker-id-header", "--control-socket", os.path.join(work, f"c-{tag}.sock"),
                "--log-level", "warn"] + (["--fork-server"] if fork_server else [])
        if os.geteuid() == 0:
            args.append("--allow-root")
        self.log = open(os.path.join(work, f"clusterd-{tag}.log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        self.label = f"clusterd --spares {spares}" if spares else "clusterd (no spare)"
        if fork_server:
            self.label += " --fork-server"

    def workers(self):
        return [w for w in http_json(self.port, "/status")["workers"] if w["role"] == "http" and w["pid"]]

    def victim(self):
        """(pid, id) of the serving worker once the stack is whole and it is old enough; else None."""
        try:
            workers = self.workers()
        except (OSError, ValueError):
            return None
        serving = [w for w in workers if w["state"] == "ready" and not w["spare"]]
        spares = [w for w in workers if w["state"] == "ready" and w["spare"]]
        if len(serving) != 1 or len(spares) != self.spares or serving[0]["uptime_seconds"] < 1.2:
            return None
        w = serving[0]
        return w["pid"], f"{w['slot']}-{w['generation']}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        self.log.close()


class NodeCluster:
    header = "X-Pid"

    def __init__(self, work):
        self.port = free_port()
        self.log = open(os.path.join(work, "node.log"), "w")
        self.proc = subprocess.Popen(["node", PRIMARY, "--workers", "1"], stdout=self.log, stderr=self.log,
                                     env=dict(os.environ, PORT=str(self.port)))
        self.label = "Node " + subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip() + \
            " cluster"

    def victim(self):
        pids = children(self.proc.pid)
        answer = ask(self.port, self.header, timeout=0.5)
        if len(pids) != 1 or answer != str(pids[0]):
            return None
        return pids[0], answer

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        self.log.close()


def kill_to_first_answer(stack, kills):
    samples = []
    for _ in range(kills):
        deadline = time.monotonic() + 30
        while (victim := stack.victim()) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{stack.label}: not whole again within 30 s")
            time.sleep(0.05)
        pid, killed_id = victim
        t0 = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        end = time.monotonic() + 5
        while time.monotonic() < end:
            answer = ask(stack.port, stack.header)
            if answer is not None and answer != killed_id:
                samples.append((time.perf_counter() - t0) * 1000)
                break
        else:
            raise RuntimeError(f"{stack.label}: no answer from a replacement within 5 s")
    return samples


def idle_costs(binary, seconds, work):
    """PSS (KiB) and CPU seconds over an idle interval of a spare and of a serving worker."""
    stack = Clusterd(binary, 1, work)
    try:
        deadline = time.monotonic() + 30
        while stack.victim() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("clusterd --spares 1 did not come up")
            time.sleep(0.05)
        workers = stack.workers()
        spare = next(w["pid"] for w in workers if w["spare"])
        serving = next(w["pid"] for w in workers if not w["spare"])
        # One request warms the serving worker as a client would; the spare has served none.
        ask(stack.port, stack.header)
        before = {pid: cpu_seconds(pid) for pid in (spare, serving)}
        time.sleep(seconds)
        used = {pid: cpu_seconds(pid) - before[pid] for pid in (spare, serving)}
        return {"spare": memory_kib(spare), "serving": memory_kib(serving),
                "spare_cpu_s": used[spare], "serving_cpu_s": used[serving]}
    finally:
        stack.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--binary", default=os.path.join(ROOT, "build", "clusterd"))
    parser.add_argument("--no-node", action="store_true", help="leave out Node's cluster")
    opts = parser.parse_args()
    work = tempfile.mkdtemp(prefix="clusterd-failover-")
    print(f"failover: {opts.kills} kills per stack, one serving worker, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; logs in {work}\n")
    print("| stack | kill -> first answer by the replacement p50 ms | p90 ms | max ms |")
    print("|---|---|---|---|")
    makers = [lambda: Clusterd(opts.binary, 1, work), lambda: Clusterd(opts.binary, 0, work),
              lambda: Clusterd(opts.binary, 0, work, fork_server=True)]
    node = not opts.no_node and subprocess.run(["which", "node"], capture_output=True).returncode == 0
    if node:
        makers.append(lambda: NodeCluster(work))
    results = {}
    for make in makers:
        stack = make()
        try:
            samples = sorted(kill_to_first_answer(stack, opts.kills))
        finally:
            stack.stop()
        p90 = samples[min(len(samples) - 1, int(0.9 * len(samples)))]
        results[stack.label] = statistics.median(samples)
        print(f"| {stack.label} | {statistics.median(samples):.2f} | {p90:.2f} | {samples[-1]:.2f} |", flush=True)
    costs = idle_costs(opts.binary, opts.idle, work)
    spare, serving = costs["spare"], costs["serving"]
    print(f"\nhot spare: PSS {spare['pss'] / 1024:.1f} MiB, private {spare['uss'] / 1024:.1f} MiB, RSS "
          f"{spare['rss'] / 1024:.1f} MiB (a serving worker: PSS {serving['pss'] / 1024:.1f}, private "
          f"{serving['uss'] / 1024:.1f}, RSS {serving['rss'] / 1024:.1f} MiB); CPU over {opts.idle:.0f} s idle: spare "
          f"{costs['spare_cpu_s'] * 1000:.0f} ms, serving worker {costs['serving_cpu_s'] * 1000:.0f} ms "
          f"(clock ticks of {1000 / CLK_TCK:.0f} ms)")
    labels = list(results)
    print("FAILOVER " + " ".join(f"{label.replace(' ', '_')}={ms:.2f}ms" for label, ms in results.items()) +
          f" spare_pss_kib={spare['pss']} spare_idle_cpu_ms={costs['spare_cpu_s'] * 1000:.0f}")
    return 0 if labels else 1


if __name__ == "__main__":
    sys.exit(main())
