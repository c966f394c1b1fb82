// What a worker does to its scoreboard slot when it claims it: the previous
// occupant's figures are not carried over, and its last heartbeat is never
// taken for the new worker's (the supervisor would call it impossible).
#include "worker/slot_reporter.hpp"

#include <catch2/catch.hpp>
#include <memory>

#include "supervisor/watchdog.hpp"

using namespace clusterd;

TEST_CASE("a new generation claiming a slot clears the previous occupant's heartbeat and counters",
          "[worker][scoreboard]") {
    auto slot = std::make_unique<ScoreboardSlot>();
    // The previous occupant, generation 1, served and beat until it left at t = 5000 ms.
    slot->worker_generation.store(1);
    slot->heartbeat_ms.store(5000);
    slot->connections_open.store(7);
    slot->started_ms.store(6000);  // the supervisor starts generation 2 at t = 6000 ms
    slot->generation.store(2);

    worker::SlotReporter reporter(slot.get(), 2);
    CHECK(slot->worker_generation.load() == 2);
    CHECK(slot->heartbeat_ms.load() == 0);
    CHECK(slot->connections_open.load() == 0);

    // Before its first heartbeat the new worker is judged from its start, not accused.
    const supervisor::HeartbeatReading before_first{slot->heartbeat_ms.load(), 2, 2, 6000};
    CHECK(supervisor::judge_heartbeat(before_first, 6100, Millis{10'000}).kind == supervisor::HangVerdict::Kind::alive);
    reporter.heartbeat(6050);
    const supervisor::HeartbeatReading after_first{slot->heartbeat_ms.load(), 2, 2, 6000};
    CHECK(supervisor::judge_heartbeat(after_first, 6100, Millis{10'000}).kind == supervisor::HangVerdict::Kind::alive);
}
