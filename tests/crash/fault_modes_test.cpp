// Every failure path on purpose (--enable-fault-injection), and the resource
// limits that recycle a worker gracefully: --max-requests (with jitter) and
// --max-worker-memory replace a worker without failing a request; a stopped
// worker, one that scribbles over its own shared memory, and one that crashes
// after K requests are all dealt with while the supervisor carries on.
#include <catch2/catch.hpp>
#include <regex>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

std::size_t open_fds(pid_t pid) { return proc_entries(pid, "fd"); }

}  // namespace

TEST_CASE("the --max-requests limit replaces a worker gracefully and no request fails", "[crash][faults]") {
    Daemon daemon({"--workers", "1", "--max-requests", "20", "--max-requests-jitter", "5"});
    const auto before = daemon.wait_for_workers(1);
    REQUIRE(before.size() == 1);
    HttpClient client(daemon.port());
    for (int i = 0; i < 40; ++i) REQUIRE(client.get("/").status == 200);
    CHECK(daemon.wait_for_log(std::regex(R"(served 2\d requests \(--max-requests\))")));
    CHECK(daemon.wait_for_log("asked to be replaced: it served --max-requests"));
    CHECK(daemon.wait_for_log(std::regex(R"(worker \d+ is ready; worker 0 \(pid \d+\) drains and leaves)")));
    CHECK(daemon.wait_for_replacement(before, 1));
    for (int i = 0; i < 5; ++i) CHECK(client.get("/").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("the --max-worker-memory limit replaces a worker that grew past it", "[crash][faults]") {
    Daemon daemon({"--workers", "1", "--max-worker-memory", "96MiB", "--enable-fault-injection"});
    const auto before = daemon.wait_for_workers(1);
    REQUIRE(before.size() == 1);
    HttpClient client(daemon.port());
    REQUIRE(client.get("/debug/crash?mode=leak&mib=128").status == 200);
    CHECK(daemon.wait_for_log(std::regex(R"(worker 0 \(pid \d+\): RSS \d+ MiB is above --max-worker-memory 96 MiB)")));
    CHECK(daemon.wait_for_log(std::regex(R"(worker 0 \(pid \d+\) exited with code 0 .*\(draining\))")));
    CHECK(daemon.wait_for_replacement(before, 1));
    CHECK(HttpClient(daemon.port()).get("/").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a worker that stops itself is killed by the watchdog and replaced", "[crash][faults]") {
    Daemon daemon({"--workers", "1", "--hang-timeout", "400ms", "--enable-fault-injection"});
    const auto before = daemon.wait_for_workers(1);
    REQUIRE(before.size() == 1);
    HttpClient client(daemon.port(), 2s);
    (void)client.get("/debug/crash?mode=stop");  // never answered: the process is stopped
    CHECK(daemon.wait_for_log(std::regex(R"(worker 0 \(pid \d+\) hung: .*; killing it)")));
    CHECK(daemon.wait_for_replacement(before, 1));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a worker that scribbles over its own shared memory is not believed and is replaced", "[crash][faults]") {
    Daemon daemon({"--workers", "2", "--hang-timeout", "500ms", "--enable-fault-injection"});
    const auto before = daemon.wait_for_workers(2);
    REQUIRE(before.size() == 2);
    HttpClient client(daemon.port(), 2s);
    (void)client.get("/debug/crash?mode=scribble");  // the worker spins after scribbling
    CHECK(daemon.wait_for_log(std::regex(R"(worker [01] \(pid \d+\) (is not trustworthy|hung): .*; killing it)")));
    CHECK(daemon.wait_for_log(std::regex(R"(worker [01] \(pid \d+\) killed by SIGKILL)")));
    CHECK(daemon.wait_for_replacement(before, 2));
    HttpClient fresh(daemon.port());
    CHECK(fresh.get("/metrics").status == 200);
    CHECK(fresh.get("/status").status == 200);
    CHECK(daemon.running());
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a worker cannot forge a supervisor line or send terminal escapes through its log", "[crash][faults]") {
    Daemon daemon({"--workers", "1", "--compute", "processes", "--compute-processes", "1", "--enable-fault-injection"});
    CHECK(HttpClient(daemon.port()).get("/debug/crash?mode=forge-log").status == 200);
    CHECK(daemon.wait_for_log(
        std::regex(R"(\[worker 0 \d+\] fault injection: forged\\n\[supervisor\] all workers stopped\\x1b\[2J\\x1b\[31m)")));
    CHECK(HttpClient(daemon.port()).get("/compute/fib?n=10").status == 200);
    CHECK(daemon.stop_and_check_clean());
    const std::string log = daemon.log_text();
    CHECK(log.find('\x1b') == std::string::npos);
    CHECK(log.find("\n[supervisor] all workers stopped") == std::string::npos);
    CHECK(log.find("unattributed") == std::string::npos);  // the true prefixes of worker and compute lines are kept
}

TEST_CASE("fd-leak keeps descriptors open and --crash-after-requests crashes on the Kth response",
          "[crash][faults]") {
    Daemon daemon({"--workers", "1", "--crash-after-requests", "3", "--enable-fault-injection"});
    const auto workers = daemon.wait_for_workers(1);
    REQUIRE(workers.size() == 1);
    const std::size_t fds_before = open_fds(workers[0]);
    HttpClient client(daemon.port());
    CHECK(client.get("/debug/crash?mode=fd-leak&count=40").status == 200);
    CHECK(open_fds(workers[0]) >= fds_before + 40);
    CHECK(client.get("/").status == 200);
    (void)client.get("/");  // the third response is written, then the worker aborts
    CHECK(daemon.wait_for_log("fault injection: crashing after 3 requests"));
    CHECK(daemon.wait_for_log(std::regex(R"(worker 0 \(pid \d+\) killed by SIGABRT)")));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("fault injection options are refused without --enable-fault-injection", "[crash][faults]") {
    auto refused = run_clusterd({"--crash-after-requests", "3"});
    REQUIRE(refused);
    CHECK(refused->status.code == 2);
    CHECK_THAT(refused->output, Catch::Contains("--enable-fault-injection"));
    Daemon daemon({"--workers", "1"});
    HttpClient client(daemon.port());
    for (const char* mode : {"segv", "stop", "leak", "fd-leak", "scribble"}) {
        CHECK(client.get(std::string("/debug/crash?mode=") + mode).status == 404);
    }
    CHECK(daemon.stop_and_check_clean());
}
