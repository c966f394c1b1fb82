"""What lab.json holds: the figures of each kind of record, shared by lab.py
(which writes them) and check_lab.py (which the fast-mode test runs)."""

# Per server configuration (clusterd configuration or peer), idle.
CONFIG_FIELDS = ("startup_ms", "pss_idle_kib", "pss_one_unit_kib", "pss_per_added_worker_kib")

# Per cell (server x workload).
WORKLOAD_FIELDS = {
    "hello": ("throughput_rps", "p50_ms", "p99_ms", "errors", "pss_kib", "other_cpu_s"),
    "fib": ("throughput_rps", "p50_ms", "p99_ms", "errors", "pss_kib", "other_cpu_s"),
    "mixed": ("throughput_rps", "p50_ms", "p99_ms", "errors", "probe_p50_ms", "probe_p99_ms", "probes", "pss_kib",
              "other_cpu_s"),
    "crash": ("throughput_rps", "p50_ms", "p99_ms", "failed_requests", "recovery_ms", "units_before", "other_cpu_s"),
}

# Per run of the classic experiment (K x fib(N) at once).
CLASSIC_FIELDS = ("wall_s", "first_s", "ok", "k", "n", "speedup", "ideal_speedup", "other_cpu_s")

WORKLOADS = tuple(WORKLOAD_FIELDS)
