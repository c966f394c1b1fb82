#include "supervisor/slot.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace clusterd::supervisor {
namespace {

using S = SlotState;

// The legal edges, in one place; tests walk every (from, to) pair against it.
constexpr bool edge(S from, S to) {
    switch (from) {
        case S::empty: return to == S::starting;
        case S::starting: return to == S::ready || to == S::draining || to == S::exited;
        case S::ready: return to == S::draining || to == S::exited;
        case S::draining: return to == S::exited;
        case S::exited:
            return to == S::starting || to == S::backoff || to == S::failed || to == S::empty;
        case S::backoff: return to == S::starting || to == S::empty;
        case S::failed: return to == S::starting || to == S::empty;
    }
    return false;
}

}  // namespace

bool is_legal_transition(SlotState from, SlotState to) { return edge(from, to); }

Slots::Slots(unsigned http, unsigned compute, unsigned loops_per_process) : slots_(http + compute) {
    const unsigned loops = std::max(loops_per_process, 1u);
    for (unsigned i = 0; i < slots_.size(); ++i) {
        slots_[i].index = i;
        if (i >= http) {
            slots_[i].role = SlotRole::compute;
        } else {
            // A process needs all its loops' slots inside [0, http).
            const bool first_of_process = i % loops == 0 && i + loops <= http;
            slots_[i].role = first_of_process ? SlotRole::http : SlotRole::loop;
        }
    }
    counts_[static_cast<std::size_t>(S::empty)] = http + compute;
}

unsigned Slots::count(SlotRole role, SlotState state) const {
    unsigned n = 0;
    for (const auto& slot : slots_) n += slot.role == role && slot.state == state ? 1 : 0;
    return n;
}

bool Slots::transition(unsigned index, SlotState to, std::string_view why) {
    Slot& slot = slots_.at(index);
    if (!edge(slot.state, to)) {
        spdlog::error("BUG: worker {} refused illegal transition {} → {} ({})", index, to_string(slot.state),
                      to_string(to), why);
        return false;
    }
    spdlog::debug("worker {} (pid {}) {} → {} ({})", index, slot.pid, to_string(slot.state), to_string(to), why);
    counts_[static_cast<std::size_t>(slot.state)] -= 1;
    counts_[static_cast<std::size_t>(to)] += 1;
    slot.state = to;
    if (observer_) observer_(slot);
    return true;
}

}  // namespace clusterd::supervisor
