// An executor dies mid-job. With --compute=processes only the jobs the dead
// compute process held fail (502) and the HTTP worker keeps serving; with
// --compute=threads the same crash takes the whole worker and every
// connection it had. Both are real deaths: a real SIGSEGV from the job, a
// real SIGKILL from the test.
#include <sys/types.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

// The children that do not hold the listening socket: the compute processes.
std::vector<pid_t> compute_pids(Daemon& daemon) {
    std::vector<pid_t> compute;
    for (pid_t pid : daemon.worker_pids()) {
        if (!daemon.holds_listener(pid)) compute.push_back(pid);
    }
    return compute;
}

std::vector<pid_t> http_pids(Daemon& daemon) {
    std::vector<pid_t> http;
    for (pid_t pid : daemon.worker_pids()) {
        if (daemon.holds_listener(pid)) http.push_back(pid);
    }
    return http;
}

double metric_value(std::uint16_t port, const std::string& name) {
    HttpClient client(port);
    std::istringstream lines(client.get("/metrics").body);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
    }
    return -1;
}

}  // namespace

TEST_CASE("a compute process that segfaults mid-job fails only that job with 502", "[crash][compute]") {
    // A generous deadline: sanitizer builds run fib many times slower.
    Daemon daemon({"--workers", "1", "--compute", "processes", "--compute-processes", "2", "--compute-timeout",
                   "120s", "--enable-fault-injection"});
    const auto http_before = http_pids(daemon);
    REQUIRE(http_before.size() == 1);
    REQUIRE(compute_pids(daemon).size() == 2);

    // A healthy job on the other compute process, in flight while the crash happens.
    RawConnection healthy(daemon.port());
    REQUIRE(healthy.send(http_request("GET", "/compute/fib?n=40")));
    HttpClient client(daemon.port());
    HttpResponse crashed = client.get("/compute/fib?n=10&crash=1");
    CHECK(crashed.status == 502);
    auto other = healthy.read_responses(1, 120s);
    REQUIRE(other.size() == 1);
    CHECK(other[0].status == 200);

    CHECK(daemon.wait_for_log(std::regex(R"(compute process \d+ \(pid \d+\) killed by SIGSEGV)")));
    CHECK(daemon.wait_for_log("1 job(s) it was running fail with 502"));
    // The HTTP worker never noticed: same process, still serving.
    CHECK(http_pids(daemon) == http_before);
    CHECK(client.get("/healthz").status == 200);
    CHECK(eventually([&] { return compute_pids(daemon).size() == 2; }, 15s));
    CHECK(client.get("/compute/fib?n=10").status == 200);
    CHECK(metric_value(daemon.port(), "clusterd_compute_jobs_lost_total") == 1);
    CHECK(metric_value(daemon.port(), "clusterd_connections_lost_total") == 0);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a compute process killed with SIGKILL mid-job - 502 for its job then a replacement", "[crash][compute]") {
    Daemon daemon({"--workers", "1", "--compute", "processes", "--compute-processes", "1", "--compute-timeout",
                   "60s", "--enable-fault-injection"});
    auto compute = compute_pids(daemon);
    REQUIRE(compute.size() == 1);
    RawConnection stuck(daemon.port());
    REQUIRE(stuck.send(http_request("GET", "/compute/fib?n=1&hang=1")));
    REQUIRE(eventually([&] { return metric_value(daemon.port(), "clusterd_compute_running") == 1; }, 15s));

    REQUIRE(::kill(compute[0], SIGKILL) == 0);
    auto answer = stuck.read_responses(1, 15s);
    REQUIRE(answer.size() == 1);
    CHECK(answer[0].status == 502);
    CHECK(eventually(
        [&] {
            auto now = compute_pids(daemon);
            return now.size() == 1 && now[0] != compute[0];
        },
        15s));
    HttpClient client(daemon.port());
    CHECK(client.get("/compute/primes?limit=100").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("with --compute=threads a crashing job takes its whole worker and its connections", "[crash][compute]") {
    Daemon daemon({"--workers", "1", "--compute", "threads", "--enable-fault-injection"});
    const auto before = http_pids(daemon);
    REQUIRE(before.size() == 1);
    // A bystander: an idle keep-alive connection on the same worker.
    RawConnection bystander(daemon.port());
    REQUIRE(bystander.send(http_request("GET", "/healthz")));
    REQUIRE(bystander.read_responses(1, 10s).size() == 1);

    HttpClient client(daemon.port());
    HttpResponse crashed = client.get("/compute/fib?n=10&crash=1");
    CHECK(crashed.status == 0);  // no HTTP answer at all: the process is gone
    CHECK(bystander.wait_closed(10s));
    CHECK(daemon.wait_for_log(std::regex(R"(worker 0 \(pid \d+\) killed by SIGSEGV)")));
    CHECK(daemon.wait_for_log("connection(s) were open on it and are lost"));
    CHECK(eventually(
        [&] {
            auto now = http_pids(daemon);
            return now.size() == 1 && now != before;
        },
        15s));
    CHECK(metric_value(daemon.port(), "clusterd_connections_lost_total") >= 2);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a compute process stopped in the middle of a job is killed at the hang timeout not the deadline",
          "[crash][compute]") {
    Daemon daemon({"--workers", "1", "--compute", "processes", "--compute-processes", "1", "--hang-timeout", "500ms",
                   "--compute-timeout", "60s", "--enable-fault-injection"});
    auto compute = compute_pids(daemon);
    REQUIRE(compute.size() == 1);
    RawConnection busy(daemon.port());
    REQUIRE(busy.send(http_request("GET", "/compute/fib?n=1&hang=1")));
    REQUIRE(eventually([&] { return metric_value(daemon.port(), "clusterd_compute_running") == 1; }, 15s));
    REQUIRE(::kill(compute[0], SIGSTOP) == 0);
    CHECK(daemon.wait_for_log(std::regex(R"(compute process \d+ \(pid \d+\) stopped for .* in the middle of a job)")));
    auto answer = busy.read_responses(1, 15s);  // long before the 60 s deadline
    REQUIRE(answer.size() == 1);
    CHECK(answer[0].status == 502);
    CHECK(daemon.stop_and_check_clean());
}
