#include "worker/metrics.hpp"

#include <fmt/format.h>

namespace clusterd::worker {
namespace {

class Exposition {
public:
    void family(const char* name, const char* type, const char* help) {
        out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    template <typename T>
    void sample(const char* name, const std::string& labels, T value) {
        if (labels.empty()) {
            out_ += fmt::format("{} {}\n", name, value);
        } else {
            out_ += fmt::format("{}{{{}}} {}\n", name, labels, value);
        }
    }
    template <typename T>
    void single(const char* name, const char* type, const char* help, T value) {
        family(name, type, help);
        sample(name, "", value);
    }
    [[nodiscard]] std::string take() { return std::move(out_); }

private:
    std::string out_;
};

std::string slot_label(const WorkerSnapshot& worker) { return fmt::format("slot=\"{}\"", worker.slot); }

// One family with a sample per live worker.
template <typename Field>
void per_worker(Exposition& out, const ClusterSnapshot& cluster, const char* name, const char* type,
                const char* help, Field field) {
    out.family(name, type, help);
    for (const auto& worker : cluster.workers) {
        if (worker.pid != 0) out.sample(name, slot_label(worker), field(worker));
    }
}

}  // namespace

std::string prometheus_text(const ClusterSnapshot& cluster) {
    Exposition out;
    out.single("clusterd_workers_configured", "gauge", "HTTP workers the supervisor keeps running.",
               cluster.workers_configured);
    out.single("clusterd_workers_ready", "gauge", "HTTP workers that reported ready.", cluster.workers_ready);
    out.single("clusterd_workers_failed", "gauge", "Worker slots whose circuit breaker is open.",
               cluster.workers_failed);
    out.single("clusterd_uptime_seconds", "gauge", "Seconds since the supervisor started.", cluster.uptime_seconds);

    out.family("clusterd_worker_deaths_total", "counter", "Workers that ended, by how.");
    out.sample("clusterd_worker_deaths_total", "cause=\"signal\"", cluster.deaths_by_signal);
    out.sample("clusterd_worker_deaths_total", "cause=\"exit\"", cluster.deaths_by_exit);
    out.single("clusterd_hang_kills_total", "counter", "Workers killed for a stale heartbeat.", cluster.hang_kills);
    out.single("clusterd_spawn_failures_total", "counter", "Workers that could not be started.",
               cluster.spawn_failures);
    out.single("clusterd_breaker_trips_total", "counter", "Times a slot's circuit breaker opened.",
               cluster.breaker_trips);
    out.family("clusterd_restart_latency_seconds", "summary",
               "From a worker's death to its replacement's readiness.");
    out.sample("clusterd_restart_latency_seconds_sum", "", cluster.restart_latency_seconds_sum);
    out.sample("clusterd_restart_latency_seconds_count", "", cluster.restart_latency_count);
    out.single("clusterd_restart_latency_max_seconds", "gauge", "The longest restart latency seen.",
               cluster.restart_latency_seconds_max);

    out.family("clusterd_worker_state", "gauge", "1 for the state each slot is in.");
    for (const auto& worker : cluster.workers) {
        out.sample("clusterd_worker_state", fmt::format("{},state=\"{}\"", slot_label(worker), worker.state), 1);
    }
    out.family("clusterd_requests_total", "counter", "Requests answered by the worker now in the slot, by status class.");
    for (const auto& worker : cluster.workers) {
        if (worker.pid == 0) continue;
        for (std::size_t c = 0; c < status_class_count; ++c) {
            out.sample("clusterd_requests_total", fmt::format("{},code=\"{}xx\"", slot_label(worker), c + 1),
                       worker.requests[c]);
        }
    }
    per_worker(out, cluster, "clusterd_connections_accepted_total", "counter",
               "Connections accepted; compare slots to see how evenly load spreads.",
               [](const WorkerSnapshot& w) { return w.connections_accepted; });
    per_worker(out, cluster, "clusterd_connections_open", "gauge", "Connections open now.",
               [](const WorkerSnapshot& w) { return w.connections_open; });
    per_worker(out, cluster, "clusterd_received_bytes_total", "counter", "Request bytes read.",
               [](const WorkerSnapshot& w) { return w.bytes_in; });
    per_worker(out, cluster, "clusterd_sent_bytes_total", "counter", "Response bytes written.",
               [](const WorkerSnapshot& w) { return w.bytes_out; });
    per_worker(out, cluster, "clusterd_parse_errors_total", "counter", "Requests refused as malformed or too large.",
               [](const WorkerSnapshot& w) { return w.parse_errors; });
    per_worker(out, cluster, "clusterd_log_records_dropped_total", "counter",
               "Log lines that found the worker's ring full and went to stderr instead.",
               [](const WorkerSnapshot& w) { return w.log_drops; });
    per_worker(out, cluster, "clusterd_worker_restarts_total", "counter", "Times the slot's worker was replaced.",
               [](const WorkerSnapshot& w) { return w.restarts; });
    out.family("clusterd_heartbeat_age_seconds", "gauge", "Seconds since each worker's loop last turned.");
    for (const auto& worker : cluster.workers) {
        if (worker.pid != 0 && worker.heartbeat_age_seconds) {
            out.sample("clusterd_heartbeat_age_seconds", slot_label(worker), *worker.heartbeat_age_seconds);
        }
    }
    return out.take();
}

}  // namespace clusterd::worker
