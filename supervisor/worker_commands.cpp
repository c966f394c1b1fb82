#include "supervisor/worker_commands.hpp"

#include "common/monotonic.hpp"

namespace clusterd::supervisor {

WorkerCommands::WorkerCommands(ShmSegment& segment) : segment_(segment), producers_(segment.slot_count()) {}

void WorkerCommands::reset(unsigned slot) {
    CommandRing& ring = segment_.rings(slot).commands;
    ring.init();
    producers_[slot].emplace(ring);
}

bool WorkerCommands::send(unsigned slot, Command command) {
    if (slot >= producers_.size() || !producers_[slot]) return false;
    CommandRecord record;
    record.command = static_cast<std::uint32_t>(command);
    record.issued_ms = static_cast<std::uint64_t>(monotonic_ms());
    if (!producers_[slot]->try_push(record)) return false;
    producers_[slot]->publish();
    return true;
}

}  // namespace clusterd::supervisor
