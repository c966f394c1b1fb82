#include "common/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "common/log_file_sink.hpp"
#include "common/units.hpp"

namespace clusterd {
namespace {

// A custom pattern flag rather than one pattern per level: spdlog picks a
// pattern per sink, not per message, and the priority depends on the message.
class SyslogPriorityFlag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& message, const std::tm&, spdlog::memory_buf_t& out) override {
        const char prefix[] = {'<', static_cast<char>('0' + syslog_priority(message.level)), '>'};
        out.append(prefix, prefix + sizeof prefix);
    }
    [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<SyslogPriorityFlag>();
    }
};

// '*' is not one of spdlog's own flags.
constexpr char priority_flag = '*';

}  // namespace

int syslog_priority(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::trace:
        case spdlog::level::debug: return 7;
        case spdlog::level::info: return 6;
        case spdlog::level::warn: return 4;
        case spdlog::level::err: return 3;
        case spdlog::level::critical: return 2;
        case spdlog::level::off:
        case spdlog::level::n_levels: break;
    }
    return 6;
}

bool journal_stream_names(std::string_view journal_stream, dev_t device, ino_t inode) {
    const auto colon = journal_stream.find(':');
    if (colon == std::string_view::npos) return false;
    const auto want_device = parse_whole_number<unsigned long long>(journal_stream.substr(0, colon));
    const auto want_inode = parse_whole_number<unsigned long long>(journal_stream.substr(colon + 1));
    return want_device && want_inode && *want_device == device && *want_inode == inode;
}

bool stderr_is_journal() {
    const char* journal_stream = std::getenv("JOURNAL_STREAM");
    if (journal_stream == nullptr) return false;
    struct stat status {};
    if (fstat(STDERR_FILENO, &status) != 0) return false;
    return journal_stream_names(journal_stream, status.st_dev, status.st_ino);
}

std::unique_ptr<spdlog::formatter> make_stderr_formatter(std::string_view who, bool journal) {
    std::string pattern = journal ? std::string{'%', priority_flag} : "%Y-%m-%d %H:%M:%S.%e ";
    pattern += "[%l] ";
    if (!who.empty()) {
        pattern += who;
        pattern += ' ';
    }
    pattern += "%v";
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<SyslogPriorityFlag>(priority_flag).set_pattern(std::move(pattern));
    return formatter;
}

void init_logging(const std::string& who, spdlog::level::level_enum level, const std::string& log_file) {
    // Plain (uncoloured) stderr: stderr is unbuffered, so a worker that crashes
    // right after logging loses nothing it logged. A log file is flushed per line.
    auto logger = std::make_shared<spdlog::logger>("clusterd", make_log_sink(log_file));
    logger->set_formatter(make_stderr_formatter(who, log_file.empty() && stderr_is_journal()));
    logger->set_level(level);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

}  // namespace clusterd
