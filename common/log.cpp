#include "common/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>

namespace clusterd {

void init_logging(const std::string& who, spdlog::level::level_enum level) {
    // Plain (uncoloured) stderr: stderr is unbuffered, so a worker that crashes
    // right after logging loses nothing it logged.
    auto logger = spdlog::stderr_logger_mt("clusterd");
    const bool under_journal = std::getenv("JOURNAL_STREAM") != nullptr;
    std::string pattern = under_journal ? "" : "%Y-%m-%d %H:%M:%S.%e ";
    pattern += "[%l] " + who + " %v";
    logger->set_pattern(pattern);
    logger->set_level(level);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

}  // namespace clusterd
