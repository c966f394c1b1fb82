// spdlog sink that sends a worker's log lines through its log ring to the
// supervisor, which writes them: lines of many processes never interleave,
// and a worker that crashes loses none it had published. Never blocks: when
// the ring is full the line is counted as dropped and written to stderr
// directly instead. After each line it nudges the supervisor's eventfd.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <mutex>

#include "common/child_contract.hpp"
#include "common/shm_layout.hpp"

namespace clusterd::worker {

// The eventfd the supervisor watches for this worker's records.
inline constexpr int log_wake_fd = child::log_wake_fd;

class RingLogSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    RingLogSink(LogRing& ring, std::atomic<std::uint64_t>& drops, int wake_fd);

protected:
    void sink_it_(const spdlog::details::log_msg& message) override;
    void flush_() override {}

private:
    RingProducer<LogRecord, log_ring_capacity> producer_;
    std::atomic<std::uint64_t>& drops_;
    int wake_fd_;
};

// Replaces the default logger's sinks with a RingLogSink; the line format
// stays "[worker K pid] message" (the supervisor adds time and level). With
// --model=threads the sink is shared by every loop thread (base_sink's mutex
// keeps the ring single-producer) and each line names its loop's slot:
// "[worker K pid loop S] message".
void log_through_ring(LogRing& ring, std::atomic<std::uint64_t>& drops, const std::string& who);

// Called on a loop thread of a --model=threads worker: its lines name `slot`.
void name_loop_in_log(unsigned slot);

}  // namespace clusterd::worker
