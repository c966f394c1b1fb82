// A worker slot's lifecycle states. The state machine itself is the
// supervisor's (supervisor/slot.hpp); the names live here because the
// scoreboard publishes the state to every process that reads it.
#pragma once

#include <cstdint>

namespace clusterd {

enum class SlotState : std::uint8_t { empty, starting, ready, draining, exited, backoff, failed };
// Kept outside the enum so a switch over SlotState stays exhaustive under -Wswitch.
inline constexpr int slot_state_count = 7;

// "ready"; "invalid" for a number that is no state (read from shared memory).
[[nodiscard]] constexpr const char* to_string(SlotState state) {
    switch (state) {
        case SlotState::empty: return "empty";
        case SlotState::starting: return "starting";
        case SlotState::ready: return "ready";
        case SlotState::draining: return "draining";
        case SlotState::exited: return "exited";
        case SlotState::backoff: return "backoff";
        case SlotState::failed: return "failed";
    }
    return "invalid";
}

}  // namespace clusterd
