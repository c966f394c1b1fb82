#include "worker/slot_reporter.hpp"

#include <algorithm>
#include <cstring>

namespace clusterd::worker {
namespace {

constexpr auto relaxed = std::memory_order_relaxed;

void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
    // Single writer: a load and a store are enough, and cheaper than a locked add.
    counter.store(counter.load(relaxed) + n, relaxed);
}

}  // namespace

SlotReporter::SlotReporter(ScoreboardSlot* slot, std::uint64_t generation) : slot_(slot) {
    if (slot_ == nullptr) return;
    // A new generation starts from zero: the previous occupant's numbers are
    // the supervisor's to account for, not ours to continue.
    for (auto& counter : slot_->requests) counter.store(0, relaxed);
    slot_->bytes_in.store(0, relaxed);
    slot_->bytes_out.store(0, relaxed);
    slot_->connections_accepted.store(0, relaxed);
    slot_->connections_open.store(0, relaxed);
    slot_->parse_errors.store(0, relaxed);
    slot_->log_drops.store(0, relaxed);
    slot_->current.write(CurrentRequest{});
    slot_->recycle_requested.store(0, relaxed);
    const auto clear = [](LatencyCounters& latency) {
        for (auto& bucket : latency.buckets) bucket.store(0, relaxed);
        latency.sum_us.store(0, relaxed);
    };
    for (auto& task : slot_->compute.tasks) {
        for (auto& counter : task.jobs) counter.store(0, relaxed);
        clear(task.run);
        clear(task.wait);
    }
    for (auto& route : slot_->routes) {
        for (auto& counter : route.requests) counter.store(0, relaxed);
        clear(route.latency);
    }
    for (auto& counter : slot_->app_counters) counter.store(0, relaxed);
    slot_->compute.queued.store(0, relaxed);
    slot_->compute.running.store(0, relaxed);
    // The previous occupant's last heartbeat predates our start: left in
    // place, the supervisor would read it as ours the moment we claim the
    // slot and call it impossible (seen under TSan during a reload, where
    // the window until our first heartbeat is long). Zero means "none yet";
    // the release store publishes it with the claim.
    slot_->heartbeat_ms.store(0, relaxed);
    slot_->worker_generation.store(generation, std::memory_order_release);
}

ComputeCounters* SlotReporter::compute_counters() const { return slot_ != nullptr ? &slot_->compute : nullptr; }

std::atomic<std::uint64_t>* SlotReporter::app_counters() const {
    return slot_ != nullptr ? slot_->app_counters : nullptr;
}

void SlotReporter::route_finished(std::size_t route, unsigned status, std::uint64_t latency_us) {
    if (slot_ == nullptr || route >= max_routes) return;
    RouteCounters& counters = slot_->routes[route];
    add(counters.requests[std::clamp(status / 100, 1u, 5u) - 1], 1);
    std::size_t bucket = 0;
    while (bucket < std::size(compute_bucket_bounds_us) && latency_us > compute_bucket_bounds_us[bucket]) ++bucket;
    add(counters.latency.buckets[bucket], 1);
    add(counters.latency.sum_us, latency_us);
}

void SlotReporter::request_recycle(RecycleReason reason) {
    if (slot_ != nullptr) slot_->recycle_requested.store(static_cast<std::uint32_t>(reason), relaxed);
}

void SlotReporter::request_idle() {
    if (slot_ != nullptr) slot_->current.write(CurrentRequest{});
}

void SlotReporter::heartbeat(std::int64_t now_ms) {
    if (slot_ != nullptr) slot_->heartbeat_ms.store(now_ms, relaxed);
}

void SlotReporter::request_started(std::string_view method, std::string_view target, std::int64_t now_ms) {
    if (slot_ == nullptr) return;
    CurrentRequest current;
    current.started_ms = now_ms;
    const auto method_size = std::min(method.size(), sizeof current.method - 1);
    std::memcpy(current.method, method.data(), method_size);
    const auto target_size = std::min(target.size(), sizeof current.target - 1);
    std::memcpy(current.target, target.data(), target_size);
    slot_->current.write(current);
}

void SlotReporter::request_finished(unsigned status, std::size_t bytes_out) {
    if (slot_ == nullptr) return;
    const unsigned status_class = std::clamp(status / 100, 1u, 5u) - 1;
    add(slot_->requests[status_class], 1);
    add(slot_->bytes_out, bytes_out);
    slot_->current.write(CurrentRequest{});
}

void SlotReporter::bytes_received(std::size_t bytes) {
    if (slot_ != nullptr) add(slot_->bytes_in, bytes);
}

void SlotReporter::connection_opened() {
    if (slot_ == nullptr) return;
    add(slot_->connections_accepted, 1);
    add(slot_->connections_open, 1);
}

void SlotReporter::connection_closed() {
    if (slot_ != nullptr) slot_->connections_open.store(slot_->connections_open.load(relaxed) - 1, relaxed);
}

void SlotReporter::parse_error() {
    if (slot_ != nullptr) add(slot_->parse_errors, 1);
}

}  // namespace clusterd::worker
