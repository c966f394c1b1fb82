// --log-file: every process's lines go to one file, and SIGUSR1 reopens it,
// the way logrotate expects (rename, then signal).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <regex>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/proc_files.hpp"

using namespace clusterd::test;

TEST_CASE("a --log-file takes every process's lines and SIGUSR1 reopens it after a rename", "[integration][logs]") {
    char dir_template[] = "/tmp/clusterd-logs-XXXXXX";
    REQUIRE(mkdtemp(dir_template) != nullptr);
    const std::string dir = dir_template;
    const std::string log = dir + "/clusterd.log";
    DaemonOptions options;
    options.args = {"--workers", "1", "--log-file", log, "--enable-fault-injection"};
    options.wait_listening = false;  // the port is in the file, not on stderr
    options.wait_ready = false;
    Daemon daemon(options);
    REQUIRE(file_contains(log, "all 1 workers ready"));
    const std::string first = read_all(log);
    std::smatch port;
    REQUIRE(std::regex_search(first, port, std::regex(R"(listening on 127\.0\.0\.1:(\d+))")));
    HttpClient client(static_cast<std::uint16_t>(std::stoi(port[1].str())));
    // A worker's own line, carried through its ring and written by the supervisor.
    CHECK(client.get("/debug/crash?mode=slow&ms=1").status == 200);

    std::filesystem::rename(log, log + ".1");
    REQUIRE(daemon.send_signal(SIGUSR1));
    REQUIRE(file_contains(log, "reopened the log file"));
    (void)client.get("/debug/crash?mode=abort");  // the worker dies: the supervisor's warning goes to the new file
    CHECK(file_contains(log, "killed by SIGABRT"));
    CHECK(file_contains(log, "fault injection: abort on request"));  // a worker's line, in the new file too
    CHECK(read_all(log + ".1").find("killed by SIGABRT") == std::string::npos);
    CHECK(daemon.log_text().empty());  // nothing went to stderr
    CHECK(daemon.stop_and_check_clean());
    std::filesystem::remove_all(dir);
}
