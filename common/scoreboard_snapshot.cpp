#include "common/scoreboard_snapshot.hpp"

#include <cstring>

#include "common/config.hpp"
#include "common/slot_state.hpp"

namespace clusterd {
namespace {

constexpr auto relaxed = std::memory_order_relaxed;

// In doubles: a time a worker scribbled can be anything, and the int64
// difference of two such could overflow.
double seconds_between(std::int64_t from_ms, std::int64_t to_ms) {
    return (static_cast<double>(to_ms) - static_cast<double>(from_ms)) / 1000.0;
}

// Up to the first NUL, and never past the buffer: the writer may not have
// terminated it. Non-printable bytes are shown as '?'.
template <std::size_t N>
std::string bounded_text(const char (&buffer)[N]) {
    std::string text(buffer, strnlen(buffer, N));
    for (char& c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    }
    return text;
}

LatencySnapshot read_latency(const LatencyCounters& counters) {
    LatencySnapshot latency;
    for (std::size_t b = 0; b < compute_bucket_count; ++b) latency.buckets[b] = counters.buckets[b].load(relaxed);
    latency.sum_us = counters.sum_us.load(relaxed);
    return latency;
}

ComputeSnapshot read_compute(const ComputeCounters& counters) {
    ComputeSnapshot compute;
    for (std::size_t t = 0; t < max_tasks; ++t) {
        const TaskCounters& task = counters.tasks[t];
        for (std::size_t o = 0; o < job_outcome_count; ++o) compute.tasks[t].jobs[o] = task.jobs[o].load(relaxed);
        compute.tasks[t].run = read_latency(task.run);
        compute.tasks[t].wait = read_latency(task.wait);
    }
    compute.queued = counters.queued.load(relaxed);
    compute.running = counters.running.load(relaxed);
    return compute;
}

}  // namespace

std::optional<RequestInFlight> read_current_request(const ScoreboardSlot& slot, std::int64_t now_ms) {
    auto current = slot.current.try_read();
    if (!current || current->started_ms <= 0 || current->started_ms > now_ms) return std::nullopt;
    return RequestInFlight{bounded_text(current->method), bounded_text(current->target),
                           seconds_between(current->started_ms, now_ms)};
}

ClusterSnapshot take_snapshot(const ShmSegment& segment, std::int64_t now_ms) {
    const SegmentHeader& header = segment.header();
    const SupervisorStats& stats = header.stats;
    ClusterSnapshot cluster;
    cluster.supervisor_pid = header.supervisor_pid;
    cluster.workers_configured = header.workers;
    cluster.uptime_seconds = seconds_between(header.started_ms, now_ms);
    cluster.deaths_by_signal = stats.deaths_by_signal.load(relaxed);
    cluster.deaths_by_exit = stats.deaths_by_exit.load(relaxed);
    cluster.hang_kills = stats.hang_kills.load(relaxed);
    cluster.spawn_failures = stats.spawn_failures.load(relaxed);
    cluster.breaker_trips = stats.breaker_trips.load(relaxed);
    cluster.restart_latency_count = stats.restart_latency_count.load(relaxed);
    cluster.restart_latency_seconds_sum = static_cast<double>(stats.restart_latency_us_sum.load(relaxed)) / 1e6;
    cluster.restart_latency_seconds_max = static_cast<double>(stats.restart_latency_us_max.load(relaxed)) / 1e6;
    cluster.workers_ready = stats.workers_ready.load(relaxed);
    cluster.workers_failed = stats.workers_failed.load(relaxed);
    cluster.compute_mode = header.compute_mode <= static_cast<std::uint32_t>(ComputeMode::processes)
                               ? to_string(static_cast<ComputeMode>(header.compute_mode))
                               : "invalid";
    cluster.compute_process_deaths = stats.compute_process_deaths.load(relaxed);
    cluster.compute_jobs_lost = stats.compute_jobs_lost.load(relaxed);
    cluster.compute_stuck_kills = stats.compute_stuck_kills.load(relaxed);
    cluster.recycles = stats.recycles.load(relaxed);
    cluster.connections_lost = stats.connections_lost.load(relaxed);
    for (std::size_t i = 0; i < restart_stat_count; ++i) cluster.restarts[i] = stats.restarts[i].load(relaxed);
    cluster.reloads_completed = stats.reloads_completed.load(relaxed);
    cluster.reloads_failed = stats.reloads_failed.load(relaxed);
    cluster.reloads_refused = stats.reloads_refused.load(relaxed);
    if (auto ring = segment.jobs()) cluster.job_ring = ring->load();

    for (std::uint32_t i = 0; i < segment.slot_count(); ++i) {
        const ScoreboardSlot& slot = segment.slot(i);
        const auto generation = slot.generation.load(relaxed);
        if (generation == 0) continue;  // never used
        WorkerSnapshot worker;
        worker.slot = i;
        worker.role = i < segment.http_slots() ? "http" : "compute";
        worker.pid = slot.pid.load(relaxed);
        const auto state = slot.state.load(relaxed);
        worker.state = state < static_cast<std::uint32_t>(slot_state_count) ? to_string(static_cast<SlotState>(state)) : "invalid";
        worker.generation = generation;
        worker.restarts = slot.restarts.load(relaxed);
        if (auto note = slot.last_exit.try_read()) worker.last_exit = bounded_text(note->text);
        if (worker.pid != 0) {
            // Worker-writable like the whole slot: a start after now, or none, is unknown (0).
            const auto started = slot.started_ms.load(relaxed);
            if (started > 0 && started <= now_ms) worker.uptime_seconds = seconds_between(started, now_ms);
            worker.rss_bytes = slot.rss_bytes.load(relaxed);
            worker.cpu_seconds = static_cast<double>(slot.cpu_ms.load(relaxed)) / 1000.0;
            if (auto status = slot.program_status.try_read()) worker.program_status = bounded_text(status->text);
        }
        // The worker's half counts only if the current generation wrote it.
        if (slot.worker_generation.load(relaxed) == generation) {
            const auto heartbeat = slot.heartbeat_ms.load(relaxed);
            if (heartbeat > 0 && heartbeat <= now_ms) worker.heartbeat_age_seconds = seconds_between(heartbeat, now_ms);
            for (std::size_t c = 0; c < status_class_count; ++c) worker.requests[c] = slot.requests[c].load(relaxed);
            worker.bytes_in = slot.bytes_in.load(relaxed);
            worker.bytes_out = slot.bytes_out.load(relaxed);
            worker.connections_accepted = slot.connections_accepted.load(relaxed);
            worker.connections_open = slot.connections_open.load(relaxed);
            worker.parse_errors = slot.parse_errors.load(relaxed);
            worker.log_drops = slot.log_drops.load(relaxed);
            if (worker.pid != 0) worker.current = read_current_request(slot, now_ms);
            worker.compute = read_compute(slot.compute);
            for (std::size_t r = 0; r < max_routes; ++r) {
                for (std::size_t c = 0; c < status_class_count; ++c) {
                    worker.routes[r].requests[c] = slot.routes[r].requests[c].load(relaxed);
                }
                worker.routes[r].latency = read_latency(slot.routes[r].latency);
            }
            for (std::size_t a = 0; a < max_app_counters; ++a) worker.app_counters[a] = slot.app_counters[a].load(relaxed);
        }
        cluster.workers.push_back(std::move(worker));
    }
    return cluster;
}

}  // namespace clusterd
