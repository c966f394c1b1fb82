#include "common/status_report.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace clusterd {
namespace {

std::uint64_t total_requests(const WorkerSnapshot& worker) {
    std::uint64_t total = 0;
    for (auto n : worker.requests) total += n;
    return total;
}

}  // namespace

namespace {

// Summed over the cluster: routes by pattern, tasks by name, counters by name.
nlohmann::json application_json(const ClusterSnapshot& cluster, const ApplicationNames& app) {
    nlohmann::json routes = nlohmann::json::array();
    for (std::size_t r = 0; r < app.routes.size() && r < max_routes; ++r) {
        std::uint64_t by_class[status_class_count]{};
        for (const auto& w : cluster.workers) {
            for (std::size_t c = 0; c < status_class_count; ++c) by_class[c] += w.routes[r].requests[c];
        }
        routes.push_back({{"route", app.routes[r]},
                          {"requests", {{"1xx", by_class[0]}, {"2xx", by_class[1]}, {"3xx", by_class[2]},
                                        {"4xx", by_class[3]}, {"5xx", by_class[4]}}}});
    }
    nlohmann::json tasks = nlohmann::json::array();
    for (std::size_t t = 0; t < app.tasks.size() && t < max_tasks; ++t) {
        nlohmann::json outcomes = nlohmann::json::object();
        for (std::size_t o = 0; o < job_outcome_count; ++o) {
            std::uint64_t total = 0;
            for (const auto& w : cluster.workers) {
                if (w.role == "http") total += w.compute.tasks[t].jobs[o];
            }
            outcomes[to_string(static_cast<JobOutcome>(o))] = total;
        }
        tasks.push_back({{"task", app.tasks[t]}, {"jobs", outcomes}});
    }
    nlohmann::json counters = nlohmann::json::object();
    for (std::size_t i = 0; i < app.counters.size() && i < max_app_counters; ++i) {
        std::uint64_t total = 0;
        for (const auto& w : cluster.workers) total += w.app_counters[i];
        counters[app.counters[i]] = total;
    }
    return {{"name", app.name}, {"routes", routes}, {"tasks", tasks}, {"counters", counters}};
}

}  // namespace

std::string status_json(const ClusterSnapshot& cluster, const ApplicationNames& app,
                        const std::optional<ExecutorCounts>& executors) {
    nlohmann::json workers = nlohmann::json::array();
    for (const auto& w : cluster.workers) {
        nlohmann::json requests;
        for (std::size_t c = 0; c < status_class_count; ++c) requests[std::to_string(c + 1) + "xx"] = w.requests[c];
        nlohmann::json worker = {
            {"slot", w.slot},
            {"role", w.role},
            {"spare", w.spare},
            {"pid", w.pid},
            {"generation", w.generation},
            {"state", w.state},
            {"uptime_seconds", w.uptime_seconds},
            {"restarts", w.restarts},
            {"heartbeat_age_seconds", w.heartbeat_age_seconds ? nlohmann::json(*w.heartbeat_age_seconds) : nullptr},
            {"requests", requests},
            {"requests_total", total_requests(w)},
            {"bytes_in", w.bytes_in},
            {"bytes_out", w.bytes_out},
            {"connections_accepted", w.connections_accepted},
            {"connections_open", w.connections_open},
            {"parse_errors", w.parse_errors},
            {"log_drops", w.log_drops},
            {"last_exit", w.last_exit},
            {"rss_bytes", w.rss_bytes},
            {"cpu_seconds", w.cpu_seconds},
            {"program_status", w.program_status},
            {"compute_queued", w.compute.queued},
            {"compute_running", w.compute.running},
        };
        worker["current_request"] = w.current ? nlohmann::json{{"method", w.current->method},
                                                                {"target", w.current->target},
                                                                {"for_seconds", w.current->for_seconds}}
                                              : nlohmann::json(nullptr);
        workers.push_back(std::move(worker));
    }
    nlohmann::json restarts = nlohmann::json::object();
    for (std::size_t i = 0; i < restart_stat_count; ++i) restarts[restart_stats[i].name] = cluster.restarts[i];
    nlohmann::json status = {
        {"supervisor_pid", cluster.supervisor_pid},
        {"fault_injection", cluster.fault_injection},
        {"uptime_seconds", cluster.uptime_seconds},
        {"workers_configured", cluster.workers_configured},
        {"workers_ready", cluster.workers_ready},
        {"workers_failed", cluster.workers_failed},
        {"spares_ready", cluster.spares_ready},
        {"spare_promotions", cluster.spare_promotions},
        {"deaths", {{"signal", cluster.deaths_by_signal}, {"exit", cluster.deaths_by_exit}}},
        {"hang_kills", cluster.hang_kills},
        {"spawn_failures", cluster.spawn_failures},
        {"breaker_trips", cluster.breaker_trips},
        {"breakers_open", cluster.workers_failed},
        {"restarts", restarts},
        {"compute",
         {{"mode", cluster.compute_mode},
          {"process_deaths", cluster.compute_process_deaths},
          {"jobs_lost", cluster.compute_jobs_lost},
          {"stuck_kills", cluster.compute_stuck_kills},
          {"queued", cluster.job_ring ? nlohmann::json(cluster.job_ring->queued) : nullptr},
          {"running", cluster.job_ring ? nlohmann::json(cluster.job_ring->running) : nullptr}}},
        {"recycles", cluster.recycles},
        {"connections_lost", cluster.connections_lost},
        {"workers", workers},
    };
    if (!app.name.empty()) status["application"] = application_json(cluster, app);
    if (executors) {
        status["compute"]["executors"] = {{"per_worker", executors->per_worker},
                                          {"total", executors->total},
                                          {"policy", to_string(executors->policy)},
                                          {"nice", executors->nice}};
        if (executors->cpus > 0) status["compute"]["executors"]["cpus"] = executors->cpus;
    }
    // Worker-written strings went through bounded_text; replace anything odd anyway.
    return status.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string status_table(const ClusterSnapshot& cluster) {
    std::string out = fmt::format("supervisor pid {}, up {:.0f} s, {}/{} workers ready, {} failed{}\n",
                                  cluster.supervisor_pid, cluster.uptime_seconds, cluster.workers_ready,
                                  cluster.workers_configured, cluster.workers_failed,
                                  cluster.spares_ready > 0 || cluster.spare_promotions > 0
                                      ? fmt::format(", {} hot spares ready, {} promoted", cluster.spares_ready,
                                                    cluster.spare_promotions)
                                      : "");
    if (cluster.fault_injection) out += "FAULT INJECTION ENABLED: any client can crash, hang or scribble on workers\n";
    out += fmt::format("{:>4} {:<7} {:>8} {:>4} {:<9} {:>9} {:>10} {:>6} {:>9} {:>8} {:>8}  {}\n", "slot", "role",
                       "pid", "gen", "state", "uptime", "requests", "conns", "heartbeat", "rss", "cpu",
                       "now serving / status / last exit");
    for (const auto& w : cluster.workers) {
        const std::string heartbeat =
            w.heartbeat_age_seconds ? fmt::format("{:.1f}s ago", *w.heartbeat_age_seconds) : "-";
        std::string doing = w.current ? fmt::format("{} {} ({:.1f} s)", w.current->method, w.current->target,
                                                    w.current->for_seconds)
                                      : w.pid == 0                ? w.last_exit
                                      : !w.program_status.empty() ? w.program_status
                                                                  : "idle";
        const std::string rss =
            w.pid != 0 && w.rss_bytes > 0 ? fmt::format("{:.1f}M", static_cast<double>(w.rss_bytes) / 1048576.0) : "-";
        const std::string cpu = w.pid != 0 && w.rss_bytes > 0 ? fmt::format("{:.2f}s", w.cpu_seconds) : "-";
        out += fmt::format("{:>4} {:<7} {:>8} {:>4} {:<9} {:>8.0f}s {:>10} {:>6} {:>9} {:>8} {:>8}  {}\n", w.slot,
                           w.spare ? "spare" : w.role, w.pid, w.generation, w.state, w.uptime_seconds, total_requests(w), w.connections_open,
                           heartbeat, rss, cpu, doing);
    }
    return out;
}

}  // namespace clusterd
