// One worker slot's lifecycle as an explicit state machine. Slots::transition
// is the only writer of a slot's state: it rejects illegal edges, logs the
// change and keeps per-state counts, so "3/4 ready" never needs a scan.
//
//   empty → starting → ready → draining → exited → starting | backoff | failed | empty
//                 └──────────────────────────┘ (dies before ready, or during)
//   backoff → starting | empty      failed → starting (after cooldown) | empty
#pragma once

#include <sys/types.h>

#include <array>
#include <functional>
#include <optional>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/slot_state.hpp"
#include "supervisor/restart_policy.hpp"

namespace clusterd::supervisor {

using clusterd::SlotState;
using clusterd::slot_state_count;
using clusterd::to_string;

[[nodiscard]] bool is_legal_transition(SlotState from, SlotState to);

// HTTP workers serve on the listening socket; compute processes run jobs
// from the shared job ring (--compute=processes). With --model=threads one
// HTTP worker process runs L event loops and occupies L consecutive slots:
// the first (http) carries the process and its state machine, the other
// L - 1 (loop) are scoreboard slots of its loops, never spawned into; the
// supervisor mirrors the first one's state into them.
enum class SlotRole { http, compute, loop };

struct Slot {
    unsigned index = 0;
    SlotRole role = SlotRole::http;
    SlotState state = SlotState::empty;
    std::uint64_t generation = 0;  // bumped on every spawn; tells a stale message from a live one
    pid_t pid = 0;                 // 0 when no process occupies the slot
    SteadyTime started_at{};
    std::int64_t started_ms = 0;  // monotonic_ms() at spawn: the heartbeat judge's, never read back from shared memory
    bool was_ready = false;  // its worker reported ready: a death then is no crash-loop evidence
    DeathHistory deaths;
    std::optional<SteadyTime> replacing_since;  // when a running worker died; cleared when its replacement is ready
    const char* kill_reason = nullptr;         // set when the supervisor killed it ("hang"), for the log
    std::int64_t killed_at_ms = 0;             // monotonic ms of that first signal

    // Who replaces whom, and which worker is retiring, is the rotation's
    // (rotation.hpp); the slot only says what its worker was started with.
    std::uint64_t config_generation = 0;  // the configuration generation it was started with
    ExitInfo last_exit{};                 // how its last worker ended, for the restart policy
    bool over_memory_limit = false;       // a compute process told to leave for --max-worker-memory
    std::int64_t stopped_since_ms = 0;    // a compute process seen stopped during a job since then
};

class Slots {
public:
    // Slots [0, http) are HTTP workers', [http, http + compute) compute
    // processes'. loops_per_process > 1 (--model=threads): of the HTTP slots,
    // every loops_per_process-th is a process's, the rest its loops'.
    Slots(unsigned http, unsigned compute, unsigned loops_per_process = 1);

    // Moves slot `index` to `to`. Returns false (and changes nothing) for an
    // illegal edge, which is a bug in the caller: it is logged as one.
    bool transition(unsigned index, SlotState to, std::string_view why);

    [[nodiscard]] Slot& operator[](unsigned index) { return slots_[index]; }
    [[nodiscard]] const Slot& operator[](unsigned index) const { return slots_[index]; }
    [[nodiscard]] unsigned size() const { return static_cast<unsigned>(slots_.size()); }
    [[nodiscard]] unsigned count(SlotState state) const { return counts_[static_cast<std::size_t>(state)]; }
    // Slots of one role in that state (a scan: a few dozen slots at most).
    [[nodiscard]] unsigned count(SlotRole role, SlotState state) const;
    [[nodiscard]] auto begin() { return slots_.begin(); }
    [[nodiscard]] auto end() { return slots_.end(); }

    // Called after every accepted transition (the supervisor mirrors the
    // state into the scoreboard here, so no other path writes it).
    void on_transition(std::function<void(const Slot&)> observer) { observer_ = std::move(observer); }

private:
    std::vector<Slot> slots_;
    std::array<unsigned, slot_state_count> counts_{};
    std::function<void(const Slot&)> observer_;
};

}  // namespace clusterd::supervisor
