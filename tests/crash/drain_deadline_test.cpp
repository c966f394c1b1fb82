// Every drain has a deadline: a client that stops reading cannot hold a
// retired worker, however many reloads it sees. The stuck client sends
// pipelined GET /metrics (several KiB each) with a tiny receive buffer and
// never reads, so the worker's writes, then its reads, stall on it.
#include <catch2/catch.hpp>

#include <csignal>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/non_reading_client.hpp"

using namespace clusterd::test;

namespace {

constexpr auto settle_timeout = 20s;

}  // namespace

TEST_CASE("a worker held by a client that never reads is killed at its drain deadline after a reload",
          "[crash][drain_deadline]") {
    Daemon daemon({"--workers", "1", "--shutdown-timeout", "1s"});
    const auto before = daemon.wait_for_workers(worker_processes(1));
    REQUIRE(before.size() == worker_processes(1));
    NonReadingClient stuck(daemon.port());

    REQUIRE(daemon.send_signal(SIGHUP));
    CHECK(daemon.wait_for_log("reload complete", settle_timeout));
    CHECK(daemon.wait_for_log(std::regex(R"(\(pid )" + std::to_string(before[0]) +
                                         R"(\) is still draining 1s after it was told to.*killing it)"),
                              settle_timeout));
    CHECK(eventually([&] { return !process_alive(before[0]); }, settle_timeout));
    CHECK(daemon.wait_for_workers(worker_processes(1)).size() == worker_processes(1));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("ten reloads in a row under clients that never read all complete, leaving no draining worker",
          "[crash][drain_deadline]") {
    Daemon daemon({"--workers", "2", "--shutdown-timeout", "500ms"});
    std::vector<std::unique_ptr<NonReadingClient>> stuck;
    for (unsigned i = 1; i <= 10; ++i) {
        INFO("reload " << i);
        for (int c = 0; c < 2; ++c) stuck.push_back(std::make_unique<NonReadingClient>(daemon.port()));
        REQUIRE(daemon.send_signal(SIGHUP));
        REQUIRE(daemon.wait_for_log("reload complete", settle_timeout, i));
    }
    CHECK(daemon.count_log("reload failed") == 0);
    CHECK(daemon.count_log("no spare slot") == 0);
    // The last reload's predecessors go at their deadline too.
    CHECK(eventually([&] { return daemon.worker_pids().size() == worker_processes(2); }, settle_timeout));
    CHECK(daemon.stop_and_check_clean());
}
