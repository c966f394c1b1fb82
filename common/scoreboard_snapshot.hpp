// A plain copy of the scoreboard at one instant, checked field by field, for
// everything that reports on the cluster: /metrics, /status, `clusterd
// status` and the supervisor's crash log lines. Nothing read from a worker's
// half of a slot is trusted: strings are cut at their buffer, states that
// are no state read as "invalid", times that are not plausible read as unknown.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/shm_segment.hpp"

namespace clusterd {

struct RequestInFlight {
    std::string method;
    std::string target;
    double for_seconds = 0;
};

struct LatencySnapshot {
    std::uint64_t buckets[compute_bucket_count]{};  // per bucket, not cumulative
    std::uint64_t sum_us = 0;
};

struct TaskSnapshot {
    std::uint64_t jobs[job_outcome_count]{};
    LatencySnapshot run;
    LatencySnapshot wait;
};

// One HTTP worker's (or compute process's) view of its tasks.
struct ComputeSnapshot {
    TaskSnapshot tasks[max_tasks];
    std::uint64_t queued = 0;
    std::uint64_t running = 0;
};

struct RouteSnapshot {
    std::uint64_t requests[status_class_count]{};
    LatencySnapshot latency;
};

struct WorkerSnapshot {
    unsigned slot = 0;
    std::string role;  // "http" or "compute"
    pid_t pid = 0;
    std::string state;
    std::uint64_t generation = 0;
    std::uint64_t restarts = 0;
    double uptime_seconds = 0;
    std::optional<double> heartbeat_age_seconds;  // empty until the worker's first heartbeat
    std::array<std::uint64_t, status_class_count> requests{};
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_open = 0;
    std::uint64_t parse_errors = 0;
    std::uint64_t log_drops = 0;
    std::optional<RequestInFlight> current;
    std::string last_exit;  // how the previous occupant ended; empty if none
    std::uint64_t rss_bytes = 0;  // of its process, from /proc via the supervisor; 0: not read yet
    double cpu_seconds = 0;       // user + system, likewise
    std::string program_status;   // exec mode: the program's last STATUS=
    ComputeSnapshot compute;
    RouteSnapshot routes[max_routes];
    std::uint64_t app_counters[max_app_counters]{};
};

struct ClusterSnapshot {
    pid_t supervisor_pid = 0;
    unsigned workers_configured = 0;
    double uptime_seconds = 0;
    std::uint64_t deaths_by_signal = 0;
    std::uint64_t deaths_by_exit = 0;
    std::uint64_t hang_kills = 0;
    std::uint64_t spawn_failures = 0;
    std::uint64_t breaker_trips = 0;
    std::uint64_t restart_latency_count = 0;
    double restart_latency_seconds_sum = 0;
    double restart_latency_seconds_max = 0;
    unsigned workers_ready = 0;
    unsigned workers_failed = 0;
    std::string compute_mode;  // inline, threads or processes
    std::uint64_t compute_process_deaths = 0;
    std::uint64_t compute_jobs_lost = 0;
    std::uint64_t compute_stuck_kills = 0;
    std::uint64_t recycles = 0;
    std::uint64_t connections_lost = 0;
    std::array<std::uint64_t, restart_stat_count> restarts{};  // by RestartStat
    std::uint64_t reloads_completed = 0;
    std::uint64_t reloads_failed = 0;
    std::uint64_t reloads_refused = 0;
    std::optional<JobRingLoad> job_ring;  // with --compute=processes
    std::vector<WorkerSnapshot> workers;  // slots that hold or held a worker
    // Not from the segment: whoever takes the snapshot knows its own
    // configuration (the supervisor, or the worker serving /status).
    bool fault_injection = false;
};

// The request a slot's worker is serving now, if it wrote a sane one.
[[nodiscard]] std::optional<RequestInFlight> read_current_request(const ScoreboardSlot& slot, std::int64_t now_ms);

[[nodiscard]] ClusterSnapshot take_snapshot(const ShmSegment& segment, std::int64_t now_ms);

}  // namespace clusterd
