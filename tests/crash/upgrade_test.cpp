// Binary upgrade (SIGUSR2): the supervisor starts its binary anew on the same
// socket, the new cluster becomes ready, the old one drains and exits; under
// wrk's keep-alive load not one request fails. A new binary that fails leaves
// the old cluster serving. The binary is a private copy, so the test can put
// a broken "new version" at its path the way a package upgrade replaces a file.
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/binary_copy.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/shm_entries.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/wrk_load.hpp"

using namespace clusterd::test;

namespace {

// Processes whose command line names `--supervisor-pid <pid>`: that supervisor's workers.
std::vector<pid_t> workers_of(pid_t supervisor) {
    std::vector<pid_t> found;
    const std::string wanted = std::string("--supervisor-pid") + '\0' + std::to_string(supervisor) + '\0';
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(entry.path() / "cmdline");
        std::stringstream text;
        text << in.rdbuf();
        if (text.str().find(wanted) != std::string::npos) found.push_back(static_cast<pid_t>(std::stoi(name)));
    }
    return found;
}

// Stops the new supervisor (our child now: the Daemon made us a subreaper) and reaps it.
bool stop_successor(pid_t successor) {
    if (::kill(successor, SIGTERM) != 0) return false;
    int status = 0;
    const bool reaped = eventually([&] { return ::waitpid(successor, &status, WNOHANG) == successor; }, 15s);
    if (!reaped) {
        ::kill(successor, SIGKILL);
        ::waitpid(successor, &status, 0);
        return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

TEST_CASE("a binary upgrade under keep-alive load hands over with zero failed requests", "[crash][upgrade]") {
    if (!wrk_installed()) {
        WARN("wrk is not installed (Debian package wrk; make test installs it); skipping");
        return;
    }
    BinaryCopy binary;
    Daemon daemon({"--workers", "2"});
    const auto old_workers = daemon.wait_for_workers(2);
    REQUIRE(old_workers.size() == 2);
    WrkLoad load(daemon.port(), 20, 4s);
    std::this_thread::sleep_for(500ms);

    REQUIRE(daemon.send_signal(SIGUSR2));
    auto ready = daemon.wait_for_log_match(
        std::regex(R"(binary upgrade: the new supervisor \(pid (\d+)\) is ready; this one drains and exits)"), 30s);
    REQUIRE(ready);
    const pid_t successor = static_cast<pid_t>(std::stoi(ready->at(0)));
    auto old_exit = daemon.wait_exit(30s);
    REQUIRE(old_exit);
    CHECK(old_exit->clean());
    CHECK(daemon.no_worker_left());  // the old cluster's workers are gone
    const std::string wrk = load.finish();
    INFO(wrk);
    CHECK(wrk.find("requests in") != std::string::npos);
    CHECK(wrk.find("Socket errors") == std::string::npos);
    CHECK(wrk.find("Non-2xx") == std::string::npos);

    // The new cluster serves on the same port, on its own.
    CHECK(workers_of(successor).size() == 2);
    HttpClient client(daemon.port());
    CHECK(client.get("/healthz").status == 200);
    CHECK(stop_successor(successor));
    CHECK(eventually([&] { return workers_of(successor).empty(); }, 10s));
    // The successor's segment was memfds: nothing of it is left anywhere.
    CHECK(clusterd_shm_names().count("clusterd." + std::to_string(successor)) == 0);
}

TEST_CASE("a new binary that fails to start leaves the old cluster serving", "[crash][upgrade]") {
    BinaryCopy binary;
    Daemon daemon({"--workers", "2"});
    const auto workers = daemon.wait_for_workers(2);
    REQUIRE(workers.size() == 2);
    binary.replace_with_script("#!/bin/sh\necho 'broken build: cannot start' >&2\nexit 2\n");

    REQUIRE(daemon.send_signal(SIGUSR2));
    CHECK(daemon.wait_for_log(std::regex(
        R"(binary upgrade failed: the new supervisor \(pid \d+\) exited with code 2 before it was ready; this cluster keeps serving)")));
    CHECK(daemon.worker_pids() == workers);
    HttpClient client(daemon.port());
    CHECK(client.get("/healthz").status == 200);
    CHECK(daemon.running());
    CHECK(daemon.stop_and_check_clean());
}
