#include "common/log_file_sink.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <vector>

namespace clusterd {
namespace {

// The sinks made so far, for reopen_log_files(). Only the supervisor makes
// them, from its one thread, before and during its loop.
std::vector<std::weak_ptr<ReopenableFileSink>>& file_sinks() {
    static std::vector<std::weak_ptr<ReopenableFileSink>> sinks;
    return sinks;
}

}  // namespace

ReopenableFileSink::ReopenableFileSink(const std::string& path) { file_.open(path, false); }

bool ReopenableFileSink::reopen() {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
        file_.reopen(false);
        return true;
    } catch (const spdlog::spdlog_ex& error) {
        spdlog::error("reopening the log file failed: {}", error.what());
        return false;
    }
}

void ReopenableFileSink::sink_it_(const spdlog::details::log_msg& message) {
    spdlog::memory_buf_t line;
    formatter_->format(message, line);
    file_.write(line);
    file_.flush();
}

void ReopenableFileSink::flush_() { file_.flush(); }

std::shared_ptr<spdlog::sinks::sink> make_log_sink(const std::string& path) {
    if (path.empty()) return std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto sink = std::make_shared<ReopenableFileSink>(path);
    file_sinks().push_back(sink);
    return sink;
}

int reopen_log_files() {
    int reopened = 0;
    for (auto& weak : file_sinks()) {
        auto sink = weak.lock();
        if (!sink) continue;
        if (!sink->reopen()) return -1;
        ++reopened;
    }
    return reopened;
}

}  // namespace clusterd
