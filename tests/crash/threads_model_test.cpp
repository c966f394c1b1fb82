// The threads serving model (--model=threads) under the faults that tell it
// from the processes model: one worker process runs every event loop, so a
// crash or a hang of any loop costs all of them at once, and the supervisor
// must bring all of them back. A reload and a stop must reach every loop.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

constexpr auto replace_timeout = 15s;

// The test's arguments plus --model threads (unless the fixture adds it already).
std::vector<std::string> threads_args(std::vector<std::string> args) {
    if (!threads_model()) {
        args.emplace_back("--model");
        args.emplace_back("threads");
    }
    return args;
}

// Scoreboard slots `clusterd status` shows ready and held by pid.
unsigned ready_slots_of(const Daemon& daemon, pid_t pid) {
    auto table = run_clusterd({"status", "--control-socket", daemon.control_socket()});
    if (!table || !table->status.clean()) return 0;
    const std::regex row("^\\s*\\d+\\s+http\\s+" + std::to_string(pid) + "\\s+\\d+\\s+ready\\b");
    std::istringstream lines(table->output);
    unsigned ready = 0;
    for (std::string line; std::getline(lines, line);) ready += std::regex_search(line, row) ? 1 : 0;
    return ready;
}

// Waits until the one worker process is not `dead` and all `loops` of its
// slots are ready; returns its pid, 0 on timeout.
pid_t wait_for_new_process(Daemon& daemon, pid_t dead, unsigned loops) {
    pid_t now = 0;
    eventually(
        [&] {
            const auto pids = daemon.worker_pids();
            now = pids.size() == 1 && pids[0] != dead ? pids[0] : 0;
            return now != 0 && ready_slots_of(daemon, now) == loops;
        },
        replace_timeout);
    return now != 0 && ready_slots_of(daemon, now) == loops ? now : 0;
}

}  // namespace

TEST_CASE("threads model: one worker process serves with one ready scoreboard slot per loop", "[crash][threads]") {
    Daemon daemon(threads_args({"--workers", "3"}));
    const auto workers = daemon.wait_for_workers(1);
    REQUIRE(workers.size() == 1);
    CHECK(ready_slots_of(daemon, workers[0]) == 3);
    HttpClient client(daemon.port());
    CHECK(client.get("/healthz").status == 200);
    auto metrics = client.get("/metrics");
    CHECK_THAT(metrics.body, Catch::Contains("clusterd_workers_ready 3"));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("threads model: SIGKILL of the worker process loses all its loops and all of them come back",
          "[crash][threads]") {
    Daemon daemon(threads_args({"--workers", "3"}));
    const auto before = daemon.wait_for_workers(1);
    REQUIRE(before.size() == 1);
    REQUIRE(::kill(before[0], SIGKILL) == 0);
    CHECK(daemon.wait_for_log(std::regex("worker process 0 \\(pid " + std::to_string(before[0]) +
                                         ", 3 loops\\) killed by SIGKILL"),
                              replace_timeout));
    CHECK(daemon.wait_for_log("all 3 event loops lost with it", replace_timeout));
    const pid_t after = wait_for_new_process(daemon, before[0], 3);
    REQUIRE(after != 0);
    CHECK(daemon.wait_for_log("all 3 workers ready", replace_timeout, 2));
    HttpClient client(daemon.port());
    CHECK(client.get("/").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("threads model: one hung loop gets the whole worker process replaced", "[crash][threads]") {
    Daemon daemon(threads_args({"--workers", "2", "--hang-timeout", "1s", "--enable-fault-injection"}));
    const auto before = daemon.wait_for_workers(1);
    REQUIRE(before.size() == 1);
    HttpClient client(daemon.port(), 20s);
    CHECK(client.get("/debug/crash?mode=hang").status == 0);  // the connection died with the process
    CHECK(daemon.wait_for_log(std::regex("worker process 0 \\(pid " + std::to_string(before[0]) +
                                         "\\) hung: no heartbeat for .*all 2 loops are replaced with it.* while "
                                         "serving GET /debug/crash\\?mode=hang"),
                              replace_timeout));
    const pid_t after = wait_for_new_process(daemon, before[0], 2);
    REQUIRE(after != 0);
    HttpClient again(daemon.port());
    CHECK(again.get("/").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("threads model: a reload starts the new process before the old one drains every loop and exits 0",
          "[crash][threads]") {
    Daemon daemon(threads_args({"--workers", "2"}));
    const auto before = daemon.wait_for_workers(1);
    REQUIRE(before.size() == 1);
    HttpClient keep_alive(daemon.port());
    REQUIRE(keep_alive.get("/").status == 200);
    REQUIRE(daemon.send_signal(SIGHUP));
    CHECK(daemon.wait_for_log("reload complete", replace_timeout));
    CHECK(daemon.wait_for_log(std::regex("worker process 0 \\(pid " + std::to_string(before[0]) +
                                         ", 2 loops\\) exited with code 0 .*\\(draining\\)"),
                              replace_timeout));
    const pid_t after = wait_for_new_process(daemon, before[0], 2);
    REQUIRE(after != 0);
    CHECK(daemon.count_log("loops lost") == 0);
    for (int i = 0; i < 10; ++i) {
        HttpClient client(daemon.port());
        CHECK(client.get("/").status == 200);
    }
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("threads model: SIGTERM drains every loop and the supervisor exits 0", "[crash][threads]") {
    Daemon daemon(threads_args({"--workers", "3"}));
    REQUIRE(daemon.wait_for_workers(1).size() == 1);
    HttpClient client(daemon.port());
    REQUIRE(client.get("/").status == 200);
    REQUIRE(daemon.send_signal(SIGTERM));
    const auto status = daemon.wait_exit(replace_timeout);
    REQUIRE(status);
    CHECK(status->clean());
    CHECK(daemon.count_log(std::regex(R"(worker process 0 \(pid \d+, 3 loops\) exited with code 0 .*\(draining\))")) ==
          1);
    CHECK(daemon.no_worker_left());
}

TEST_CASE("threads model: a reload that changes --workers is refused and the loops keep serving", "[crash][threads]") {
    char dir_template[] = "/tmp/clusterd-config-XXXXXX";
    REQUIRE(mkdtemp(dir_template) != nullptr);
    const std::string path = std::string(dir_template) + "/clusterd.toml";
    std::ofstream(path) << "workers = 2\n";
    Daemon daemon(threads_args({"--config", path}));
    const auto before = daemon.wait_for_workers(1);
    REQUIRE(before.size() == 1);
    std::ofstream(path) << "workers = 3\n";
    REQUIRE(daemon.send_signal(SIGHUP));
    CHECK(daemon.wait_for_log("reload refused, the workers keep the configuration they have: with --model=threads, "
                              "--workers",
                              replace_timeout));
    CHECK(daemon.worker_pids() == before);
    CHECK(ready_slots_of(daemon, before[0]) == 2);
    HttpClient client(daemon.port());
    CHECK(client.get("/").status == 200);
    CHECK(daemon.stop_and_check_clean());
    std::remove(path.c_str());
    ::rmdir(dir_template);
}

TEST_CASE("threads model: SIGKILL of the supervisor takes the worker process and all its loops with it",
          "[crash][threads]") {
    Daemon daemon(threads_args({"--workers", "3"}));
    REQUIRE(daemon.wait_for_workers(1).size() == 1);
    REQUIRE(daemon.send_signal(SIGKILL));
    REQUIRE(daemon.wait_exit(replace_timeout));
    // PR_SET_PDEATHSIG is per process: the loop threads go with it, none had to be killed by the test.
    const bool clean = daemon.no_worker_left(5s);
    INFO(daemon.failure());
    CHECK(clean);
}

TEST_CASE("threads model: SIGQUIT stops at once with slow requests in flight", "[crash][threads]") {
    Daemon daemon(threads_args({"--workers", "2", "--enable-fault-injection", "--shutdown-timeout", "60s"}));
    REQUIRE(daemon.wait_for_workers(1).size() == 1);
    RawConnection first(daemon.port());
    RawConnection second(daemon.port());
    REQUIRE(first.send(http_request("GET", "/debug/crash?mode=slow&ms=60000")));
    REQUIRE(second.send(http_request("GET", "/debug/crash?mode=slow&ms=60000")));
    REQUIRE(daemon.send_signal(SIGQUIT));
    const auto status = daemon.wait_exit(replace_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.no_worker_left());
}
