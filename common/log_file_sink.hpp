// An spdlog sink appending to a file that can be reopened in place: after
// logrotate renames the file, SIGUSR1 makes the supervisor reopen every such
// sink (reopen_log_files()), and new lines go to a fresh file of the same name.
// Each line is flushed as it is written, like the stderr sink: a crash loses
// nothing that was logged.
#pragma once

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>

#include <memory>
#include <mutex>
#include <string>

namespace clusterd {

class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    // Opens (creates, appends to) path; throws spdlog::spdlog_ex with the reason if it cannot.
    explicit ReopenableFileSink(const std::string& path);
    // Closes and opens the path again; false (the old file stays in use) if that fails.
    bool reopen();

protected:
    void sink_it_(const spdlog::details::log_msg& message) override;
    void flush_() override;

private:
    spdlog::details::file_helper file_;
};

// A sink for the daemon's log lines: the file when path is not empty (and
// remembered for reopen_log_files()), else stderr.
[[nodiscard]] std::shared_ptr<spdlog::sinks::sink> make_log_sink(const std::string& path);

// Reopens every file sink made by make_log_sink(); returns how many were
// reopened, or -1 if one failed (the reason is logged).
int reopen_log_files();

}  // namespace clusterd
