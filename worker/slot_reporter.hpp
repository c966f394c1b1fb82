// The worker's side of its scoreboard slot: heartbeat, counters and the
// request being served now. The worker is the only writer of these fields
// (shm_layout.hpp); every store is a relaxed atomic with no syscall, so
// reporting costs a request a few nanoseconds, unlike gunicorn's heartbeat
// file (an fchmod per request).
#pragma once

#include <string_view>

#include "common/shm_layout.hpp"

namespace clusterd::worker {

class SlotReporter {
public:
    // A reporter without a slot (no segment) accepts every call and does nothing.
    SlotReporter() = default;
    SlotReporter(ScoreboardSlot* slot, std::uint64_t generation);

    void heartbeat(std::int64_t now_ms);
    void request_started(std::string_view method, std::string_view target, std::int64_t now_ms);
    void request_finished(unsigned status, std::size_t bytes_out);
    void bytes_received(std::size_t bytes);
    void connection_opened();
    void connection_closed();
    void parse_error();
    void request_idle();  // the request in flight is over (request_finished does it for HTTP)
    // Asks the supervisor for a graceful replacement; the caller wakes it.
    void request_recycle(RecycleReason reason);
    [[nodiscard]] ComputeCounters* compute_counters() const;
    // An application route answered (index in its table), after latency_us.
    void route_finished(std::size_t route, unsigned status, std::uint64_t latency_us);
    // The slot's application counters (App::counter), or null without a slot.
    [[nodiscard]] std::atomic<std::uint64_t>* app_counters() const;

private:
    ScoreboardSlot* slot_ = nullptr;
};

}  // namespace clusterd::worker
