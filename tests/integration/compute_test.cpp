// /compute through each executor (--compute=inline|threads|processes) with a
// real daemon and real clients: results, the bounded queue (503), the
// deadline (504) and the executor's recovery, cancellation when the client
// leaves, shutdown with queued jobs, and /healthz while every executor is busy.
//
// Jobs that must hold an executor for as long as the test needs use the
// fault-injection flag hang=1 (the job spins until its executor is replaced
// or the daemon stops), so no test depends on how fast this machine is.
#include <catch2/catch.hpp>
#include <csignal>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

// Sum of every sample of `name` whose labels contain each of `labels`.
double metric_sum(const std::string& text, const std::string& name, const std::vector<std::string>& labels = {}) {
    double sum = 0;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#' || line.rfind(name, 0) != 0) continue;
        const char next = line.size() > name.size() ? line[name.size()] : '\0';
        if (next != '{' && next != ' ') continue;  // a longer name with this prefix
        bool wanted = true;
        for (const auto& label : labels) wanted = wanted && line.find(label) != std::string::npos;
        if (wanted) sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
    return sum;
}

double metric(std::uint16_t port, const std::string& name, const std::vector<std::string>& labels = {}) {
    HttpClient client(port);
    return metric_sum(client.get("/metrics").body, name, labels);
}

// Waits until a metric reaches a value (the counters are updated by other processes).
bool metric_reaches(std::uint16_t port, const std::string& name, const std::vector<std::string>& labels,
                    double value) {
    return eventually([&] { return metric(port, name, labels) >= value; }, 15s, 50ms);
}

std::vector<std::string> compute_args(const std::string& mode, std::vector<std::string> extra) {
    std::vector<std::string> args{"--compute", mode};
    if (mode == "threads") {
        args.insert(args.end(), {"--compute-threads", "1"});
    } else if (mode == "processes") {
        args.insert(args.end(), {"--compute-processes", "1"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

// A job that occupies its executor until the executor is replaced.
const std::string hang_job = "/compute/fib?n=1&hang=1";

// Sends a job that never ends and waits until an executor runs it.
std::unique_ptr<RawConnection> occupy_executor(Daemon& daemon) {
    auto holder = std::make_unique<RawConnection>(daemon.port());
    REQUIRE(holder->send(http_request("GET", hang_job)));
    REQUIRE(metric_reaches(daemon.port(), "clusterd_compute_running", {}, 1));
    return holder;
}

}  // namespace

TEST_CASE("every executor computes the right answers", "[integration][compute]") {
    const std::string mode = GENERATE("inline", "threads", "processes");
    CAPTURE(mode);
    Daemon daemon(compute_args(mode, {"--workers", "1"}));
    HttpClient client(daemon.port());

    HttpResponse fib = client.get("/compute/fib?n=20");
    REQUIRE(fib.status == 200);
    CHECK(fib.header("Content-Type") == "application/json");
    CHECK_THAT(fib.body, Catch::Contains("\"result\":6765"));
    CHECK_THAT(fib.body, Catch::Contains("\"compute_ms\":"));

    HttpResponse primes = client.get("/compute/primes?limit=1000000");
    REQUIRE(primes.status == 200);
    CHECK_THAT(primes.body, Catch::Contains("\"count\":78498"));

    // python3 -c "import hashlib; print(hashlib.pbkdf2_hmac('sha256', b'passwd', b'clusterd', 1).hex())"
    HttpResponse hash = client.get("/compute/hash?rounds=1&data=passwd");
    REQUIRE(hash.status == 200);
    CHECK_THAT(hash.body, Catch::Contains("45e832b3df9d2c0e9203770ce756710da909db1c3d84278f4ec4d135333d1c37"));

    CHECK(client.get("/compute/primes?limit=1").status == 400);
    CHECK(client.get("/compute/hash?rounds=0").status == 400);
    CHECK(client.get("/compute/nope").status == 404);
    CHECK(client.get("/compute/fib?n=1&crash=1").status == 400);  // fault flags need --enable-fault-injection
    CHECK(metric(daemon.port(), "clusterd_compute_jobs_total", {"outcome=\"completed\""}) >= 3);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a full queue answers 503 with Retry-After at once and exactly beyond its bound", "[integration][compute]") {
    const std::string mode = GENERATE("threads", "processes");
    CAPTURE(mode);
    Daemon daemon(compute_args(mode, {"--workers", "1", "--compute-queue", "2", "--compute-timeout", "60s",
                                      "--enable-fault-injection"}));
    // The only executor is busy for good; then exactly 2 jobs may wait.
    auto holder = occupy_executor(daemon);

    std::vector<std::unique_ptr<RawConnection>> burst;
    for (int i = 0; i < 5; ++i) {
        burst.push_back(std::make_unique<RawConnection>(daemon.port()));
        REQUIRE(burst.back()->send(http_request("GET", "/compute/fib?n=5")));
    }
    int rejected = 0;
    for (auto& connection : burst) {
        auto responses = connection->read_responses(1, 1500ms);
        if (responses.empty()) continue;  // accepted: waiting in the queue
        CHECK(responses[0].status == 503);
        CHECK(responses[0].header("Retry-After") == "1");
        ++rejected;
    }
    CHECK(rejected == 3);
    CHECK(metric(daemon.port(), "clusterd_compute_jobs_total", {"outcome=\"rejected\""}) == 3);
    CHECK(metric(daemon.port(), "clusterd_compute_queue_depth") == 2);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a job past --compute-timeout is answered 504 and the executor recovers", "[integration][compute]") {
    const std::string mode = GENERATE("inline", "threads", "processes");
    CAPTURE(mode);
    // Inline cannot be interrupted: a job that finishes late is answered 504.
    // Threads and processes get a job that never finishes.
    const std::string late_job = mode == "inline" ? "/compute/fib?n=42" : hang_job;
    Daemon daemon(compute_args(mode, {"--workers", "1", "--compute-timeout", "100ms", "--enable-fault-injection"}));
    HttpClient client(daemon.port());
    HttpResponse late = client.get(late_job);
    REQUIRE(late.status == 504);
    CHECK_THAT(late.body, Catch::Contains("--compute-timeout"));

    if (mode == "threads") {
        // A thread cannot be stopped: the worker asks to be replaced, its
        // successor starts first, then it drains.
        CHECK(daemon.wait_for_log("asking the supervisor to replace this worker"));
        CHECK(daemon.wait_for_log(std::regex(R"(worker \d+ is ready; worker 0 \(pid \d+\) drains and leaves)")));
    } else if (mode == "processes") {
        CHECK(daemon.wait_for_log(std::regex(R"(compute process \d+ \(pid \d+\) still running a job)")));
    }
    // Recovered: a job within its deadline is answered again.
    CHECK(eventually([&] { return HttpClient(daemon.port()).get("/compute/fib?n=5").status == 200; }, 15s, 100ms));
    CHECK(metric(daemon.port(), "clusterd_compute_jobs_total", {"outcome=\"timed_out\""}) >= 0);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a client that leaves before its job starts cancels it", "[integration][compute]") {
    const std::string mode = GENERATE("threads", "processes");
    CAPTURE(mode);
    Daemon daemon(compute_args(mode, {"--workers", "1", "--compute-timeout", "60s", "--enable-fault-injection"}));
    auto holder = occupy_executor(daemon);
    {
        RawConnection impatient(daemon.port());
        REQUIRE(impatient.send(http_request("GET", "/compute/primes?limit=1000")));
        REQUIRE(metric_reaches(daemon.port(), "clusterd_compute_queue_depth", {}, 1));
    }  // closed while queued
    CHECK(metric_reaches(daemon.port(), "clusterd_compute_jobs_total",
                         {"task=\"primes\"", "outcome=\"cancelled\""}, 1));
    CHECK(metric(daemon.port(), "clusterd_compute_queue_depth") == 0);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("/healthz is answered while every executor is busy and the queue is full", "[integration][compute]") {
    const std::string mode = GENERATE("threads", "processes");
    CAPTURE(mode);
    Daemon daemon(compute_args(mode, {"--workers", "1", "--compute-queue", "1", "--compute-timeout", "60s",
                                      "--enable-fault-injection"}));
    auto running = occupy_executor(daemon);
    RawConnection queued(daemon.port());
    REQUIRE(queued.send(http_request("GET", hang_job)));
    REQUIRE(metric_reaches(daemon.port(), "clusterd_compute_queue_depth", {}, 1));

    HttpClient probe(daemon.port());
    for (int i = 0; i < 20; ++i) REQUIRE(probe.get("/healthz").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("at shutdown queued jobs get 503 and the running one finishes", "[integration][compute]") {
    const std::string mode = GENERATE("threads", "processes");
    CAPTURE(mode);
    Daemon daemon(compute_args(mode, {"--workers", "1", "--compute-timeout", "60s", "--shutdown-timeout", "60s"}));
    // fib(45) (about 2 s of CPU here) runs long enough to still be running
    // when the queue has a job and the daemon is told to stop, and is short
    // enough to finish well within the shutdown deadline on any machine.
    RawConnection running(daemon.port());
    REQUIRE(running.send(http_request("GET", "/compute/fib?n=45")));
    REQUIRE(metric_reaches(daemon.port(), "clusterd_compute_running", {}, 1));
    RawConnection waiting(daemon.port());
    REQUIRE(waiting.send(http_request("GET", "/compute/fib?n=45")));
    REQUIRE(metric_reaches(daemon.port(), "clusterd_compute_queue_depth", {}, 1));

    REQUIRE(daemon.send_signal(SIGTERM));
    auto shed = waiting.read_responses(1, 10s);
    REQUIRE(shed.size() == 1);
    CHECK(shed[0].status == 503);
    auto finished = running.read_responses(1, 60s);
    REQUIRE(finished.size() == 1);
    CHECK(finished[0].status == 200);
    CHECK_THAT(finished[0].body, Catch::Contains("\"n\":45"));
    auto exit = daemon.wait_exit(30s);
    REQUIRE(exit);
    CHECK(exit->clean());
    CHECK(daemon.no_worker_left());
}
