#include "worker/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>

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

// A label value: Prometheus's text format escapes backslash, quote and newline.
std::string label_value(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

// A histogram from per-bucket counts, with labels before le.
void histogram(Exposition& out, const std::string& name, const std::string& labels, const LatencySnapshot& latency) {
    std::uint64_t cumulative = 0;
    const std::string prefix = labels.empty() ? "" : labels + ",";
    for (std::size_t b = 0; b < compute_bucket_count; ++b) {
        cumulative += latency.buckets[b];
        const std::string le = b < std::size(compute_bucket_bounds_us)
                                   ? fmt::format("{}", static_cast<double>(compute_bucket_bounds_us[b]) / 1e6)
                                   : "+Inf";
        out.sample((name + "_bucket").c_str(), fmt::format("{}le=\"{}\"", prefix, le), cumulative);
    }
    out.sample((name + "_sum").c_str(), labels, static_cast<double>(latency.sum_us) / 1e6);
    out.sample((name + "_count").c_str(), labels, cumulative);
}

LatencySnapshot& operator+=(LatencySnapshot& total, const LatencySnapshot& more) {
    for (std::size_t b = 0; b < compute_bucket_count; ++b) total.buckets[b] += more.buckets[b];
    total.sum_us += more.sum_us;
    return total;
}



// One family with a sample per live worker.
template <typename Field>
void per_worker(Exposition& out, const ClusterSnapshot& cluster, const char* name, const char* type,
                const char* help, Field field) {
    out.family(name, type, help);
    for (const auto& worker : cluster.workers) {
        if (worker.pid != 0) out.sample(name, slot_label(worker), field(worker));
    }
}

void compute_metrics(Exposition& out, const ClusterSnapshot& cluster, const ApplicationNames& app) {
    out.family("clusterd_compute_mode", "gauge", "1 for the executor tasks run on (--compute).");
    out.sample("clusterd_compute_mode", fmt::format("mode=\"{}\"", cluster.compute_mode), 1);

    std::uint64_t queued = 0;
    std::uint64_t running = 0;
    out.family("clusterd_compute_jobs_total", "counter",
               "Task jobs as the HTTP worker now in the slot answered them, by task and outcome (completed 200, "
               "failed 400/500/502, crashed 502, timed_out 504, rejected and shed 503, cancelled: client left).");
    const std::size_t tasks = std::min<std::size_t>(app.tasks.size(), max_tasks);
    for (const auto& worker : cluster.workers) {
        if (worker.pid == 0 || worker.role != "http") continue;
        queued += worker.compute.queued;
        running += worker.compute.running;
        for (std::size_t t = 0; t < tasks; ++t) {
            for (std::size_t o = 0; o < job_outcome_count; ++o) {
                out.sample("clusterd_compute_jobs_total",
                           fmt::format("{},task=\"{}\",outcome=\"{}\"", slot_label(worker), label_value(app.tasks[t]),
                                       to_string(static_cast<JobOutcome>(o))),
                           worker.compute.tasks[t].jobs[o]);
            }
        }
    }
    if (cluster.job_ring) {  // processes: the shared queue is the truth
        queued = cluster.job_ring->queued;
        running = cluster.job_ring->running;
    }
    out.single("clusterd_compute_queue_depth", "gauge", "Compute jobs waiting for an executor.", queued);
    out.single("clusterd_compute_running", "gauge", "Compute jobs running now.", running);

    // Summed over the cluster, by task: bounded by the task table.
    out.family("clusterd_task_run_seconds", "histogram", "Time in the task function per completed job.");
    for (std::size_t t = 0; t < tasks; ++t) {
        LatencySnapshot total;
        for (const auto& worker : cluster.workers) {
            if (worker.role == "http") total += worker.compute.tasks[t].run;
        }
        histogram(out, "clusterd_task_run_seconds", fmt::format("task=\"{}\"", label_value(app.tasks[t])), total);
    }
    out.family("clusterd_task_queue_wait_seconds", "histogram",
               "Per completed job: from submission to its answer, less the run time (queueing and transport).");
    for (std::size_t t = 0; t < tasks; ++t) {
        LatencySnapshot total;
        for (const auto& worker : cluster.workers) {
            if (worker.role == "http") total += worker.compute.tasks[t].wait;
        }
        histogram(out, "clusterd_task_queue_wait_seconds", fmt::format("task=\"{}\"", label_value(app.tasks[t])),
                  total);
    }
    out.family("clusterd_compute_process_jobs_total", "counter", "Jobs each compute process ran, by task.");
    for (const auto& worker : cluster.workers) {
        if (worker.pid == 0 || worker.role != "compute") continue;
        for (std::size_t t = 0; t < tasks; ++t) {
            out.sample("clusterd_compute_process_jobs_total",
                       fmt::format("{},task=\"{}\"", slot_label(worker), label_value(app.tasks[t])),
                       worker.compute.tasks[t].jobs[static_cast<std::size_t>(JobOutcome::completed)]);
        }
    }
    out.single("clusterd_compute_process_deaths_total", "counter",
               "Compute processes that died other than by draining.", cluster.compute_process_deaths);
    out.single("clusterd_compute_jobs_lost_total", "counter",
               "Jobs a dying compute process held (answered 502; nothing else fails).", cluster.compute_jobs_lost);
    out.single("clusterd_compute_stuck_kills_total", "counter",
               "Compute processes killed for running a job past its deadline.", cluster.compute_stuck_kills);
    out.single("clusterd_worker_recycles_total", "counter",
               "Graceful replacements workers asked for (a compute thread stuck past its deadline).",
               cluster.recycles);
    out.single("clusterd_connections_lost_total", "counter",
               "Connections open on HTTP workers when they died: what a crash cost clients.",
               cluster.connections_lost);
}

// Per route pattern, summed over the cluster; then the application's counters.
void application_metrics(Exposition& out, const ClusterSnapshot& cluster, const ApplicationNames& app) {
    const std::size_t routes = std::min<std::size_t>(app.routes.size(), max_routes);
    out.family("clusterd_route_requests_total", "counter", "Requests answered by each application route, by status class.");
    for (std::size_t r = 0; r < routes; ++r) {
        for (std::size_t c = 0; c < status_class_count; ++c) {
            std::uint64_t total = 0;
            for (const auto& worker : cluster.workers) total += worker.routes[r].requests[c];
            out.sample("clusterd_route_requests_total",
                       fmt::format("route=\"{}\",code=\"{}xx\"", label_value(app.routes[r]), c + 1), total);
        }
    }
    out.family("clusterd_route_latency_seconds", "histogram",
               "Per application route: from the request parsed to its response queued.");
    for (std::size_t r = 0; r < routes; ++r) {
        LatencySnapshot total;
        for (const auto& worker : cluster.workers) total += worker.routes[r].latency;
        histogram(out, "clusterd_route_latency_seconds", fmt::format("route=\"{}\"", label_value(app.routes[r])), total);
    }
    for (std::size_t i = 0; i < app.counters.size() && i < max_app_counters; ++i) {
        std::uint64_t total = 0;
        for (const auto& worker : cluster.workers) total += worker.app_counters[i];
        const std::string name = "clusterd_app_" + app.counters[i] + "_total";
        out.single(name.c_str(), "counter", "An application counter, summed over the cluster.", total);
    }
}

}  // namespace

ApplicationNames application_names(const detail::AppModel* app) {
    ApplicationNames names;
    if (app == nullptr) return names;
    names.name = app->name;
    for (const auto& task : app->tasks) names.tasks.push_back(task.name);
    for (std::size_t r = 0; r < app->routes.size(); ++r) names.routes.push_back(app->routes.pattern(r));
    names.counters = app->counters;
    return names;
}

std::string prometheus_text(const ClusterSnapshot& cluster, const detail::AppModel* app_model) {
    const ApplicationNames app = application_names(app_model);
    Exposition out;
    out.single("clusterd_workers_configured", "gauge", "HTTP workers the supervisor keeps running.",
               cluster.workers_configured);
    out.single("clusterd_workers_ready", "gauge", "HTTP workers that reported ready and serve (a hot spare counts once promoted).",
               cluster.workers_ready);
    out.single("clusterd_spare_workers", "gauge",
               "Hot spares (--spares) ready to take over: started, not accepting; not counted as ready workers.",
               cluster.spares_ready);
    out.single("clusterd_spare_promotions_total", "counter",
               "Hot spares promoted to serving (a serving worker died, was replaced, or a reload step).",
               cluster.spare_promotions);
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
    for (std::size_t i = 0; i < restart_stat_count; ++i) {
        const RestartStatInfo& stat = restart_stats[i];
        if (*stat.help != '\0') out.family(stat.family, "counter", stat.help);
        out.sample(stat.family, stat.label, cluster.restarts[i]);
    }
    out.family("clusterd_reloads_total", "counter",
               "Rolling reloads by outcome (completed; failed: a new worker died before it was ready; refused: "
               "the configuration was invalid or cannot apply to a running cluster).");
    out.sample("clusterd_reloads_total", "outcome=\"completed\"", cluster.reloads_completed);
    out.sample("clusterd_reloads_total", "outcome=\"failed\"", cluster.reloads_failed);
    out.sample("clusterd_reloads_total", "outcome=\"refused\"", cluster.reloads_refused);
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
    per_worker(out, cluster, "clusterd_worker_resident_bytes", "gauge",
               "Resident set of the slot's process, read from /proc by the supervisor about once a second.",
               [](const WorkerSnapshot& w) { return w.rss_bytes; });
    per_worker(out, cluster, "clusterd_worker_cpu_seconds_total", "counter",
               "User and system CPU time of the slot's process, read from /proc by the supervisor.",
               [](const WorkerSnapshot& w) { return w.cpu_seconds; });
    per_worker(out, cluster, "clusterd_worker_restarts_total", "counter", "Times the slot's worker was replaced.",
               [](const WorkerSnapshot& w) { return w.restarts; });
    compute_metrics(out, cluster, app);
    application_metrics(out, cluster, app);
    out.family("clusterd_heartbeat_age_seconds", "gauge", "Seconds since each worker's loop last turned.");
    for (const auto& worker : cluster.workers) {
        if (worker.pid != 0 && worker.heartbeat_age_seconds) {
            out.sample("clusterd_heartbeat_age_seconds", slot_label(worker), *worker.heartbeat_age_seconds);
        }
    }
    return out.take();
}

}  // namespace clusterd::worker
