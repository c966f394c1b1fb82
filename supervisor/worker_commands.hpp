// The supervisor's end of the workers' command rings (drain, reopen logs):
// the channel first, a signal as the fallback when the ring refuses.
#pragma once

#include <optional>
#include <vector>

#include "common/shm_segment.hpp"

namespace clusterd::supervisor {

class WorkerCommands {
public:
    explicit WorkerCommands(ShmSegment& segment);

    // Before a worker is spawned into slot: an empty ring, a fresh writer.
    void reset(unsigned slot);
    // Queues a command; false when the ring is full or the worker broke its
    // indices: the caller falls back to a signal.
    [[nodiscard]] bool send(unsigned slot, Command command);

private:
    using Producer = RingProducer<CommandRecord, command_ring_capacity>;

    ShmSegment& segment_;
    std::vector<std::optional<Producer>> producers_;
};

}  // namespace clusterd::supervisor
