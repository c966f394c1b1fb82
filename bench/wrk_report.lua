-- wrk done() hook used by bench/hello.sh: prints one machine-readable line
-- after wrk's own report. Times are in microseconds, as wrk records them.
--   BENCH requests=N duration_us=N p50_us=N p90_us=N p99_us=N max_us=N
--         errors_connect=N errors_read=N errors_write=N errors_status=N errors_timeout=N
-- errors_status counts non-2xx/3xx responses.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
