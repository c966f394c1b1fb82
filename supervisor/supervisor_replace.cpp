// Graceful replacement of one HTTP worker: its successor starts in a spare
// slot, and only once the successor is ready does the old worker drain and
// leave; its slot then stays empty as the next spare. Capacity never dips.
// Used when a worker asks to be recycled (a compute thread stuck past its
// deadline); a rolling reload replaces every slot the same way.
#include <spdlog/spdlog.h>

#include "supervisor/supervisor.hpp"

namespace clusterd::supervisor {
namespace {

const char* recycle_reason(std::uint32_t code) {
    switch (static_cast<RecycleReason>(code)) {
        case RecycleReason::none: return nullptr;
        case RecycleReason::stuck_compute_thread: return "a compute thread is stuck past its deadline";
        case RecycleReason::max_requests: return "it served --max-requests";
    }
    return nullptr;  // garbage in the worker's half of the slot: ignored
}

}  // namespace

void Supervisor::check_recycle_request(unsigned index) {
    const Slot& slot = slots_[index];
    if (phase_ != Phase::running || slot.state != SlotState::ready || slot.retiring || slot.successor) return;
    // Any loop of a --model=threads process may ask; the process is replaced.
    const char* why = nullptr;
    for (unsigned l = 0; l < loops_of(index) && why == nullptr; ++l) {
        const ScoreboardSlot& board = segment_.slot(index + l);
        if (board.worker_generation.load(std::memory_order_relaxed) != slot.generation) continue;
        why = recycle_reason(board.recycle_requested.load(std::memory_order_relaxed));
    }
    if (why == nullptr) return;
    segment_.header().stats.recycles.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("worker {} (pid {}) asked to be replaced: {}", index, slot.pid, why);
    replace_worker(index, why);
}

void Supervisor::replace_worker(unsigned index, const char* why) {
    for (auto& spare : slots_) {
        if (spare.role != SlotRole::http || spare.state != SlotState::empty) continue;
        spdlog::info("replacing worker {} (pid {}) ({}): starting worker {} first", index, slots_[index].pid, why,
                     spare.index);
        slots_[index].successor = spare.index;
        spare.replaces = index;
        spawn_worker(spare.index);
        return;
    }
    spdlog::error("worker {} cannot be replaced ({}): no spare slot is free; it keeps serving", index, why);
}

void Supervisor::on_successor_ready(unsigned successor) {
    Slot& next = slots_[successor];
    const unsigned index = *next.replaces;
    next.replaces.reset();
    Slot& old = slots_[index];
    old.successor.reset();
    if (old.state != SlotState::ready && old.state != SlotState::starting) return;  // it left already
    spdlog::info("worker {} is ready; worker {} (pid {}) drains and leaves", successor, index, old.pid);
    old.retiring = true;
    slots_.transition(index, SlotState::draining, "replaced");
    command_worker(index, Command::drain, SIGTERM);
}

// An exited worker whose slot is not to be refilled: it was retiring, or its
// successor is already starting and takes its place.
bool Supervisor::hand_over_to_successor(unsigned index) {
    Slot& slot = slots_[index];
    if (slot.retiring) {
        slot.retiring = false;
        slots_.transition(index, SlotState::empty, "replaced");
        return true;
    }
    if (!slot.successor) return false;
    slots_[*slot.successor].replaces.reset();
    spdlog::info("worker {}: its replacement, worker {}, is already starting and takes its place", index,
                 *slot.successor);
    slot.successor.reset();
    slots_.transition(index, SlotState::empty, "replaced");
    return true;
}

}  // namespace clusterd::supervisor
