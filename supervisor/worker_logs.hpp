// The supervisor's end of the workers' log rings: it writes their records
// with its own logger, so every line of the cluster goes through one writer
// and lines never interleave. Nothing in a record is trusted: the level and
// the length are checked, control characters are escaped, a prefix naming
// another worker is not believed, and a ring whose indices are impossible is
// reported once and ignored until the worker is replaced.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/shm_segment.hpp"

namespace clusterd::supervisor {

class WorkerLogs {
public:
    // log_file: where the records are written; empty for stderr.
    WorkerLogs(ShmSegment& segment, const std::string& log_file);

    // Before a worker is spawned into slot: an empty ring, a fresh reader.
    void reset(unsigned slot);
    // Once the worker is spawned: who may speak in slot's ring (see worker_log_line.hpp).
    void owned_by(unsigned slot, std::string_view noun, pid_t pid);
    // Exec mode: one line a program wrote to its stdout or stderr, escaped
    // and attributed by the supervisor ("[worker K pid] ...").
    void program_line(unsigned slot, pid_t pid, bool from_stderr, std::string_view line, bool cut);
    // Writes every record published so far (a wake-up, or the worker was reaped).
    void drain(unsigned slot);

private:
    using Consumer = RingConsumer<LogRecord, log_ring_capacity>;

    ShmSegment& segment_;
    std::vector<std::optional<Consumer>> consumers_;
    std::vector<bool> reported_corruption_;
    struct Owner {
        std::string noun;
        pid_t pid = 0;
    };
    std::vector<Owner> owners_;
    std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace clusterd::supervisor
