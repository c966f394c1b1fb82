// Hang verdicts from heartbeat ages: pure, so tests can walk every case.
// A worker's loop stores monotonic_ms() into its slot while it makes
// progress; a worker stuck in a busy loop, blocked in inline compute or
// SIGSTOPped stops refreshing it. The supervisor cannot trust the value (a
// crashing worker may write anything), so an impossible heartbeat is a
// verdict of its own.
#pragma once

#include <cstdint>
#include <string>

#include "common/units.hpp"

namespace clusterd::supervisor {

struct HeartbeatReading {
    std::int64_t heartbeat_ms = 0;           // as read from the slot
    std::uint64_t writer_generation = 0;     // the generation that wrote it
    std::uint64_t slot_generation = 0;       // the generation the supervisor started
    std::int64_t started_ms = 0;             // when the supervisor started it
};

struct HangVerdict {
    enum class Kind { alive, hung, invalid };
    Kind kind = Kind::alive;
    double silent_seconds = 0;  // hung: how long without a heartbeat
    std::string why;            // hung, invalid: for the log
};

[[nodiscard]] HangVerdict judge_heartbeat(const HeartbeatReading& reading, std::int64_t now_ms, Millis hang_timeout);

}  // namespace clusterd::supervisor
