#!/usr/bin/env python3
"""A real Prometheus (Debian's) scrapes a real clusterd on loopback, and its
HTTP API has the clusterd series: workers ready, restarts (after a worker is
killed), reloads by outcome, request counts, the compute latency histogram (histogram_quantile
works on it), the restart latency summary. Proves the exposition against its
real consumer, not a parser alone.

    prometheus_test.py BUILD_DIR CLUSTERD_BINARY

Exit 0 passed, 77 skipped (no prometheus binary), anything else failed.
Everything it starts is stopped by its pid, also on failure."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def eventually(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, ValueError, KeyError, IndexError) as error:
            last = error
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


class Prometheus:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def query(self, expr):
        url = self.base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        answer = json.loads(get(url))
        if answer["status"] != "success":
            raise AssertionError(f"query {expr}: {answer}")
        return answer["data"]["result"]

    def value(self, expr):
        """The one sample's value of an instant query, as a float; None when empty."""
        result = self.query(expr)
        if not result:
            return None
        if len(result) != 1:
            raise AssertionError(f"{expr}: {len(result)} series, expected one: {result}")
        return float(result[0]["value"][1])


def main():
    build, binary = sys.argv[1], sys.argv[2]
    prometheus_binary = shutil.which("prometheus")
    if prometheus_binary is None:
        print("SKIPPED: prometheus is not installed (apt-get install prometheus)")
        return 77
    deploy_dir = os.path.abspath(os.path.join(build, "deploy"))
    os.makedirs(deploy_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="prometheus-test.", dir=deploy_dir)
    processes = []
    try:
        clusterd_port, prometheus_port = free_port(), free_port()
        clusterd_log = open(os.path.join(work, "clusterd.log"), "w")
        config_file = os.path.join(work, "clusterd.conf")
        with open(config_file, "w") as config:
            config.write("workers = 2\n")
        args = [binary, "--listen", f"127.0.0.1:{clusterd_port}", "--config", config_file]
        if os.getuid() == 0:
            args.append("--allow-root")
        clusterd = subprocess.Popen(args, stdout=clusterd_log, stderr=subprocess.STDOUT)
        processes.append(clusterd)
        base = f"http://127.0.0.1:{clusterd_port}"
        eventually(lambda: get(base + "/readyz") == "ready\n", 20, "clusterd ready")
        for _ in range(5):
            get(base + "/")
        get(base + "/compute/fib?n=20")

        with open(os.path.join(work, "prometheus.yml"), "w") as config:
            config.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: clusterd
    static_configs:
      - targets: ["127.0.0.1:{clusterd_port}"]
""")
        prometheus_log = open(os.path.join(work, "prometheus.log"), "w")
        prometheus = subprocess.Popen(
            [prometheus_binary, f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/data",
             f"--web.listen-address=127.0.0.1:{prometheus_port}", "--log.level=warn"],
            stdout=prometheus_log, stderr=subprocess.STDOUT, cwd=work)
        processes.append(prometheus)
        api = Prometheus(prometheus_port)
        def prometheus_ready():
            if prometheus.poll() is not None:
                raise AssertionError(f"prometheus exited with {prometheus.returncode}")
            return "Ready" in get(api.base + "/-/ready")
        eventually(prometheus_ready, 60, "Prometheus ready")

        # The target is scraped, without errors.
        eventually(lambda: api.value('up{job="clusterd"}') == 1.0, 30, "up == 1")
        targets = json.loads(get(api.base + "/api/v1/targets"))["data"]["activeTargets"]
        print("target:", [(t["scrapeUrl"], t["health"], t["lastError"]) for t in targets])
        assert [t["health"] for t in targets] == ["up"], targets
        assert targets[0]["lastError"] == "", targets

        eventually(lambda: api.value('clusterd_workers_ready{job="clusterd"}') == 2.0, 30, "workers ready 2")
        assert api.value('clusterd_workers_configured{job="clusterd"}') == 2.0
        requests = eventually(lambda: api.value('sum(clusterd_requests_total{job="clusterd",code="2xx"})') or 0.0, 30,
                              "2xx requests counted")
        assert requests >= 6, requests
        # The compute histogram: buckets with le labels, and a quantile from them.
        buckets = api.query('clusterd_task_run_seconds_bucket{job="clusterd"}')
        assert buckets and all("le" in b["metric"] for b in buckets), buckets
        assert any(b["metric"]["le"] == "+Inf" for b in buckets), buckets
        assert api.value('sum(clusterd_task_run_seconds_count{job="clusterd"})') >= 1
        quantile = api.value('histogram_quantile(0.5, sum by (le) (clusterd_task_run_seconds_bucket{job="clusterd"}))')
        assert quantile is not None and quantile >= 0, quantile
        print("fib p50 from the histogram:", quantile, "s")

        # A worker killed: the restart and the death show up in Prometheus.
        workers = subprocess.run(["pgrep", "-P", str(clusterd.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) == 2, workers
        os.kill(int(workers[0]), signal.SIGKILL)
        eventually(lambda: api.value('sum(clusterd_worker_restarts_total{job="clusterd"})') == 1.0, 30,
                   "one restart in Prometheus")
        eventually(lambda: api.value('clusterd_worker_deaths_total{job="clusterd",cause="signal"}') == 1.0, 30,
                   "one death by signal in Prometheus")
        eventually(lambda: api.value('clusterd_restart_latency_seconds_count{job="clusterd"}') == 1.0, 30,
                   "the restart latency summary")
        eventually(lambda: api.value('clusterd_workers_ready{job="clusterd"}') == 2.0, 30, "workers ready 2 again")

        # Reloads by outcome: one that completes, one refused (an invalid file).
        os.kill(clusterd.pid, signal.SIGHUP)
        eventually(lambda: api.value('clusterd_reloads_total{job="clusterd",outcome="completed"}') == 1.0, 30,
                   "a completed reload in Prometheus")
        with open(config_file, "w") as config:
            config.write("workers = many\n")
        os.kill(clusterd.pid, signal.SIGHUP)
        eventually(lambda: api.value('clusterd_reloads_total{job="clusterd",outcome="refused"}') == 1.0, 30,
                   "a refused reload in Prometheus")
        assert api.value('clusterd_reloads_total{job="clusterd",outcome="failed"}') == 0.0
        # Every clusterd metric family reached Prometheus with its type.
        metadata = json.loads(get(api.base + '/api/v1/metadata'))["data"]
        families = sorted(name for name in metadata if name.startswith("clusterd_"))
        print(len(families), "clusterd families:", ", ".join(families))
        assert metadata["clusterd_task_run_seconds"][0]["type"] == "histogram", metadata["clusterd_task_run_seconds"]
        assert metadata["clusterd_requests_total"][0]["type"] == "counter"
        assert metadata["clusterd_workers_ready"][0]["type"] == "gauge"
        print("PASSED")
        return 0
    except AssertionError as error:
        print("FAILED:", error)
        for log in ("clusterd.log", "prometheus.log"):
            print(f"--- {log}")
            with open(os.path.join(work, log)) as text:
                print(text.read()[-4000:])
        return 1
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
