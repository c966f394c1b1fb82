// The supervisor's end of the workers' log rings: it writes their records
// with its own logger, so every line of the cluster goes through one writer
// and lines never interleave. Nothing in a record is trusted: the level and
// the length are checked, and a ring whose indices are impossible is
// reported once and ignored until the worker is replaced.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <vector>

#include "common/shm_segment.hpp"

namespace clusterd::supervisor {

class WorkerLogs {
public:
    // log_file: where the records are written; empty for stderr.
    WorkerLogs(ShmSegment& segment, const std::string& log_file);

    // Before a worker is spawned into slot: an empty ring, a fresh reader.
    void reset(unsigned slot);
    // Writes every record published so far (a wake-up, or the worker was reaped).
    void drain(unsigned slot);

private:
    using Consumer = RingConsumer<LogRecord, log_ring_capacity>;

    ShmSegment& segment_;
    std::vector<std::optional<Consumer>> consumers_;
    std::vector<bool> reported_corruption_;
    std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace clusterd::supervisor
