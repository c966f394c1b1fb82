#include "supervisor/worker_logs.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>

#include "common/log.hpp"
#include "common/log_file_sink.hpp"
#include "common/log_prefix.hpp"
#include "supervisor/worker_log_line.hpp"

namespace clusterd::supervisor {

WorkerLogs::WorkerLogs(ShmSegment& segment, const std::string& log_file)
    : segment_(segment),
      consumers_(segment.slot_count()),
      reported_corruption_(segment.slot_count(), false),
      owners_(segment.slot_count()),
      // A sink of its own on the same stderr or log file (a pattern is set
      // per sink, and the supervisor's lines keep theirs); the worker wrote
      // its own "[worker K pid]" prefix into the record. The supervisor is
      // one thread, so the two sinks never write at once.
      logger_(std::make_shared<spdlog::logger>("workers", make_log_sink(log_file))) {
    logger_->set_formatter(make_stderr_formatter("", log_file.empty() && stderr_is_journal()));
    logger_->set_level(spdlog::level::trace);  // the worker already filtered by --log-level
    logger_->flush_on(spdlog::level::trace);
}

void WorkerLogs::reset(unsigned slot) {
    LogRing& ring = segment_.rings(slot).log;
    ring.init();
    consumers_[slot].emplace(ring);
    reported_corruption_[slot] = false;
    owners_[slot] = Owner{};
}

void WorkerLogs::owned_by(unsigned slot, std::string_view noun, pid_t pid) {
    if (slot < owners_.size()) owners_[slot] = Owner{std::string(noun), pid};
}

void WorkerLogs::program_line(unsigned slot, pid_t pid, bool from_stderr, std::string_view line, bool cut) {
    logger_->log(from_stderr ? spdlog::level::warn : spdlog::level::info, "{} {}{}",
                 child_log_prefix(worker_log_noun, slot, pid), escape_control_characters(line),
                 cut ? " [line cut: too long]" : "");
}

void WorkerLogs::drain(unsigned slot) {
    if (slot >= consumers_.size() || !consumers_[slot]) return;
    Consumer& consumer = *consumers_[slot];
    std::array<LogRecord, 32> batch;
    // Bounded: at most one ring's worth per call, so a worker that logs
    // without pause cannot keep the supervisor's loop here.
    for (std::size_t read = 0; read < log_ring_capacity;) {
        RingRead got = consumer.pop_batch(batch);
        if (got.corrupted) {
            if (!reported_corruption_[slot]) {
                spdlog::error("worker {} wrote impossible indices into its log ring; its lines are lost until it is replaced",
                              slot);
                reported_corruption_[slot] = true;
            }
            return;
        }
        if (got.count == 0) break;
        for (std::size_t i = 0; i < got.count; ++i) {
            const LogRecord& record = batch[i];
            const auto level = record.level <= spdlog::level::critical ? static_cast<spdlog::level::level_enum>(record.level)
                                                                       : spdlog::level::err;
            const std::size_t length = std::min<std::size_t>(record.length, sizeof record.text);
            const Owner& owner = owners_[slot];
            logger_->log(level, "{}",
                         attributed_log_line(std::string_view(record.text, length), owner.noun, slot, owner.pid));
        }
        consumer.release();
        read += got.count;
    }
}

}  // namespace clusterd::supervisor
