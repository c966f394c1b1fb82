#include "common/log.hpp"

#include <spdlog/details/log_msg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <regex>
#include <string>

using namespace clusterd;

namespace {

std::string format(spdlog::formatter& formatter, spdlog::level::level_enum level, std::string_view text) {
    spdlog::details::log_msg message("clusterd", level, text);
    spdlog::memory_buf_t out;
    formatter.format(message, out);
    return {out.data(), out.size()};
}

}  // namespace

TEST_CASE("under the journal a line starts with its syslog priority and has no timestamp", "[common][log]") {
    auto formatter = make_stderr_formatter("[supervisor 1234]", true);
    CHECK(format(*formatter, spdlog::level::critical, "x") == "<2>[critical] [supervisor 1234] x\n");
    CHECK(format(*formatter, spdlog::level::err, "cannot listen") == "<3>[error] [supervisor 1234] cannot listen\n");
    CHECK(format(*formatter, spdlog::level::warn, "x") == "<4>[warning] [supervisor 1234] x\n");
    CHECK(format(*formatter, spdlog::level::info, "listening on 127.0.0.1:8080") ==
          "<6>[info] [supervisor 1234] listening on 127.0.0.1:8080\n");
    CHECK(format(*formatter, spdlog::level::debug, "x") == "<7>[debug] [supervisor 1234] x\n");
    CHECK(format(*formatter, spdlog::level::trace, "x") == "<7>[trace] [supervisor 1234] x\n");

    // The supervisor's sink for worker records: the worker wrote its own name.
    auto workers = make_stderr_formatter("", true);
    CHECK(format(*workers, spdlog::level::err, "[worker 0 42] boom") == "<3>[error] [worker 0 42] boom\n");
    // A clone (spdlog clones per sink) keeps the custom flag.
    CHECK(format(*workers->clone(), spdlog::level::warn, "w") == "<4>[warning] w\n");
}

TEST_CASE("outside the journal the line keeps its timestamp and has no priority", "[common][log]") {
    auto formatter = make_stderr_formatter("[worker 3 4242]", false);
    const std::string line = format(*formatter, spdlog::level::info, "ready");
    CHECK(std::regex_match(line, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[info\] \[worker 3 4242\] ready\n)")));
    auto workers = make_stderr_formatter("", false);
    CHECK(std::regex_match(format(*workers, spdlog::level::err, "[worker 0 42] x"),
                           std::regex(R"(\S+ \S+ \[error\] \[worker 0 42\] x\n)")));
}

TEST_CASE("JOURNAL_STREAM counts only when it names stderr itself", "[common][log]") {
    CHECK(journal_stream_names("8:1234", 8, 1234));
    CHECK_FALSE(journal_stream_names("8:1234", 8, 1235));
    CHECK_FALSE(journal_stream_names("9:1234", 8, 1234));
    CHECK_FALSE(journal_stream_names("8:", 8, 0));
    CHECK_FALSE(journal_stream_names("81234", 8, 1234));
    CHECK_FALSE(journal_stream_names("8:1234x", 8, 1234));
    CHECK_FALSE(journal_stream_names("", 0, 0));

    struct stat status {};
    REQUIRE(fstat(STDERR_FILENO, &status) == 0);
    const std::string ours = std::to_string(status.st_dev) + ":" + std::to_string(status.st_ino);
    const std::string other = std::to_string(status.st_dev) + ":" + std::to_string(status.st_ino + 1);
    const char* saved = std::getenv("JOURNAL_STREAM");
    const std::string saved_value = saved ? saved : "";

    ::setenv("JOURNAL_STREAM", ours.c_str(), 1);
    CHECK(stderr_is_journal());
    ::setenv("JOURNAL_STREAM", other.c_str(), 1);
    CHECK_FALSE(stderr_is_journal());  // inherited from a unit, but stderr went elsewhere
    ::unsetenv("JOURNAL_STREAM");
    CHECK_FALSE(stderr_is_journal());
    if (saved) ::setenv("JOURNAL_STREAM", saved_value.c_str(), 1);
}

TEST_CASE("every level has the priority sd-daemon.h gives it", "[common][log]") {
    CHECK(syslog_priority(spdlog::level::critical) == 2);
    CHECK(syslog_priority(spdlog::level::err) == 3);
    CHECK(syslog_priority(spdlog::level::warn) == 4);
    CHECK(syslog_priority(spdlog::level::info) == 6);
    CHECK(syslog_priority(spdlog::level::debug) == 7);
    CHECK(syslog_priority(spdlog::level::trace) == 7);
}
