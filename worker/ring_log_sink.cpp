#include "worker/ring_log_sink.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace clusterd::worker {

RingLogSink::RingLogSink(LogRing& ring, std::atomic<std::uint64_t>& drops, int wake_fd)
    : producer_(ring), drops_(drops), wake_fd_(wake_fd) {}

void RingLogSink::sink_it_(const spdlog::details::log_msg& message) {
    spdlog::memory_buf_t formatted;
    formatter_->format(message, formatted);
    std::size_t size = formatted.size();
    while (size > 0 && (formatted[size - 1] == '\n' || formatted[size - 1] == '\r')) --size;

    LogRecord record;
    record.level = static_cast<std::uint8_t>(message.level);
    record.length = static_cast<std::uint16_t>(std::min(size, sizeof record.text));
    std::memcpy(record.text, formatted.data(), record.length);
    if (!producer_.try_push(record)) {
        // Full (the supervisor is behind or stopped): never wait for it.
        drops_.store(drops_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        const std::string line = std::string(formatted.data(), size) + " (log ring full)\n";
        (void)!::write(STDERR_FILENO, line.data(), line.size());
        return;
    }
    producer_.publish();
    const std::uint64_t one = 1;
    // EAGAIN means the counter is saturated: the supervisor has a wake-up pending anyway.
    (void)!::write(wake_fd_, &one, sizeof one);
}

namespace {

thread_local int loop_slot = -1;  // -1: not a loop thread of a --model=threads worker

// '*' in the pattern (not one of spdlog's own flags): " loop S" on a loop thread, nothing elsewhere.
class LoopFlag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& out) override {
        if (loop_slot < 0) return;
        const std::string text = " loop " + std::to_string(loop_slot);
        out.append(text.data(), text.data() + text.size());
    }
    [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<LoopFlag>();
    }
};

}  // namespace

void name_loop_in_log(unsigned slot) { loop_slot = static_cast<int>(slot); }

void log_through_ring(LogRing& ring, std::atomic<std::uint64_t>& drops, const std::string& who) {
    auto sink = std::make_shared<RingLogSink>(ring, drops, log_wake_fd);
    // who is "[worker K pid]": the loop goes inside the brackets.
    std::string pattern = who;
    if (!pattern.empty() && pattern.back() == ']') pattern.insert(pattern.size() - 1, "%*");
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<LoopFlag>('*').set_pattern(pattern + " %v");
    sink->set_formatter(std::move(formatter));
    auto logger = spdlog::default_logger();
    logger->sinks().clear();
    logger->sinks().push_back(std::move(sink));
}

}  // namespace clusterd::worker
