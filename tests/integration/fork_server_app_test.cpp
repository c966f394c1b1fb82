// An application on the API (tests/support/apps/api_app.cpp) under --fork-server:
// its own routes and tasks are served by workers the fork server forked
// from that application's binary, and a process a handler leaves behind is
// reaped by the supervisor (a child subreaper while the fork server runs)
// instead of staying a zombie.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <string>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

DaemonOptions forked_app(const std::string& compute) {
    DaemonOptions options;
    options.args = {"--workers", "2", "--compute", compute, "--fork-server"};
    options.binary = CLUSTERD_API_APP;
    return options;
}

// 'Z' for a zombie, 0 once the process is gone.
char state_of(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) return 0;
    const auto close = text.rfind(')');
    return close != std::string::npos && close + 2 < text.size() ? text[close + 2] : 0;
}

pid_t parent_of(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.starts_with("PPid:")) return static_cast<pid_t>(std::stoi(line.substr(5)));
    }
    return 0;
}

}  // namespace

TEST_CASE("fork server: an application's routes and tasks are served by the workers it forks",
          "[integration][fork-server]") {
    const std::string compute = GENERATE("threads", "processes");
    Daemon daemon(forked_app(compute));
    REQUIRE(daemon.wait_for_log("fork server (pid"));
    // Two HTTP worker processes, or one of two loops in the threads pass; and the compute processes.
    const unsigned http_processes = threads_model() ? 1 : 2;
    const auto before = daemon.wait_for_workers(http_processes + (compute == "processes" ? 2 : 0));
    REQUIRE_FALSE(before.empty());
    // Kill every HTTP worker: each replacement is forked from the application's fork server.
    for (pid_t pid : before) {
        std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
        std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
        if (args.find(std::string("--role\0worker", 13)) != std::string::npos) ::kill(pid, SIGKILL);
    }
    CHECK(daemon.wait_for_log("started by the fork server", 15s, http_processes));
    CHECK(daemon.wait_for_log("all 2 workers ready", 15s, 2));
    HttpClient client(daemon.port());
    for (int i = 0; i < 20; ++i) {
        const auto item = client.get("/items/7");
        CHECK(item.status == 200);
        CHECK_THAT(item.body, Catch::Contains("\"route\":\"/items/{id}\""));
        const auto echo = client.post("/echo", "fork");
        CHECK(echo.status == 200);
        CHECK(echo.body == "krof");
    }
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("fork server: a process a handler leaves behind is the supervisor's to reap, and no zombie stays",
          "[integration][fork-server]") {
    Daemon daemon(forked_app("inline"));
    REQUIRE(daemon.wait_for_log("fork server (pid"));
    HttpClient client(daemon.port());
    const auto answer = client.get("/orphan?ms=300");
    REQUIRE(answer.status == 200);
    const pid_t orphan = static_cast<pid_t>(std::stoi(answer.body));
    REQUIRE(orphan > 0);
    // Its parent exited before the answer: it was handed to the supervisor.
    CHECK(parent_of(orphan) == daemon.pid());
    // Once it exits the supervisor reaps it: gone, not a zombie.
    CHECK(eventually([&] { return state_of(orphan) == 0; }, 10s));
    CHECK(client.get("/healthz").status == 200);
    CHECK(daemon.stop_and_check_clean());
}
