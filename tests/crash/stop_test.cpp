// Stopping: graceful (SIGTERM/SIGINT: drain, then exit 0), immediate
// (SIGQUIT, a second SIGTERM), the shutdown deadline, and the supervisor
// killed outright. No stop leaves a worker behind.
#include <sys/types.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

constexpr auto stop_timeout = 20s;
constexpr auto response_timeout = 10s;

// Counts requests whose head has been written, so a test can signal the
// daemon only once they are surely in flight.
class SentCounter {
public:
    void add() {
        std::lock_guard lock(mutex_);
        ++sent_;
        changed_.notify_all();
    }
    bool wait_for(int n, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return sent_ >= n; });
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int sent_ = 0;
};

// A keep-alive connection that has been served once, so it is surely
// accepted and idle on a worker.
std::unique_ptr<RawConnection> idle_connection(std::uint16_t port) {
    auto connection = std::make_unique<RawConnection>(port);
    if (!connection->send(http_request("GET", "/"))) return nullptr;
    auto responses = connection->read_responses(1, response_timeout);
    if (responses.size() != 1 || responses[0].status != 200) return nullptr;
    return connection;
}

bool port_refuses(std::uint16_t port) {
    try {
        RawConnection connection(port);
        return false;
    } catch (const std::runtime_error&) {
        return true;
    }
}

// Whether the one worker has begun draining: it closes its copy of the
// listening socket then (a sign that does not depend on log wording).
bool wait_until_draining(Daemon& daemon, pid_t worker) {
    return eventually([&] { return !daemon.holds_listener(worker); }, stop_timeout);
}

}  // namespace

TEST_CASE("an idle cluster stops on SIGTERM or SIGINT with exit code 0 and no worker left", "[crash][stop]") {
    const int signal = GENERATE(SIGTERM, SIGINT);
    INFO("signal " << signal);
    Daemon daemon({"--workers", "2"});
    REQUIRE(daemon.wait_for_workers(2).size() == 2);

    REQUIRE(daemon.send_signal(signal));
    const auto status = daemon.wait_exit(stop_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.count_log("graceful stop") == 1);
    CHECK(daemon.count_log("stopped: every worker has exited") == 1);
    CHECK(daemon.count_log(std::regex(R"(worker \d \(pid \d+\) exited with code 0 .*\(draining\))")) == 2);
    CHECK(port_refuses(daemon.port()));
    CHECK(daemon.no_worker_left());
}

TEST_CASE("SIGTERM while slow requests are in flight lets every one of them finish with 200", "[crash][stop]") {
    Daemon daemon({"--workers", "2", "--enable-fault-injection"});
    REQUIRE(daemon.wait_for_workers(2).size() == 2);

    constexpr int clients = 4;
    SentCounter sent;
    std::vector<HttpResponse> responses(clients);
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
        threads.emplace_back([&, i] {
            HttpClient client(daemon.port());
            client.on_request_sent([&] { sent.add(); });
            responses[static_cast<std::size_t>(i)] = client.get("/debug/crash?mode=slow&ms=3000");
        });
    }
    const bool all_sent = sent.wait_for(clients, response_timeout);
    if (all_sent) {
        std::this_thread::sleep_for(200ms);  // let the workers read them; not needed for correctness
        daemon.send_signal(SIGTERM);
    }
    for (auto& thread : threads) thread.join();
    REQUIRE(all_sent);

    for (const auto& response : responses) {
        INFO(response.error);
        CHECK(response.status == 200);
        CHECK(response.body == "slow response after 3000 ms\n");
        CHECK(response.header("Connection").value_or("(absent)") == "close");
    }
    const auto status = daemon.wait_exit(stop_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.count_log("still busy after the shutdown timeout") == 0);
    CHECK(daemon.no_worker_left());
}

TEST_CASE("a request on an idle keep-alive connection during the drain is answered, then the connection closed",
          "[crash][stop]") {
    Daemon daemon({"--workers", "1", "--drain-quiet", "5s"});
    const auto workers = daemon.wait_for_workers(1);
    REQUIRE(workers.size() == 1);
    REQUIRE(daemon.holds_listener(workers[0]));
    auto connection = idle_connection(daemon.port());
    REQUIRE(connection);

    REQUIRE(daemon.send_signal(SIGTERM));
    REQUIRE(wait_until_draining(daemon, workers[0]));
    REQUIRE(connection->send(http_request("GET", "/healthz")));
    auto responses = connection->read_responses(1, response_timeout);
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == 200);
    CHECK(responses[0].body == "ok\n");
    CHECK(responses[0].header("Connection").value_or("(absent)") == "close");
    CHECK(connection->wait_closed(response_timeout));
    connection->close();  // the worker lingers until our FIN

    const auto status = daemon.wait_exit(stop_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.no_worker_left());
}

TEST_CASE("an idle keep-alive connection is closed after --drain-quiet and the daemon exits 0", "[crash][stop]") {
    Daemon daemon({"--workers", "1", "--drain-quiet", "300ms", "--idle-timeout", "60s"});
    auto connection = idle_connection(daemon.port());
    REQUIRE(connection);

    REQUIRE(daemon.send_signal(SIGTERM));
    CHECK(connection->wait_closed(stop_timeout));
    CHECK(connection->received().empty());
    connection->close();
    const auto status = daemon.wait_exit(stop_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.no_worker_left());
}

TEST_CASE("readiness answers 503 while the worker drains, and the in-flight request still finishes",
          "[crash][stop]") {
    Daemon daemon({"--workers", "1", "--enable-fault-injection", "--drain-quiet", "5s"});
    const auto workers = daemon.wait_for_workers(1);
    REQUIRE(workers.size() == 1);
    REQUIRE(daemon.holds_listener(workers[0]));
    RawConnection slow(daemon.port());
    REQUIRE(slow.send(http_request("GET", "/debug/crash?mode=slow&ms=4000")));
    auto probe = idle_connection(daemon.port());
    REQUIRE(probe);

    REQUIRE(daemon.send_signal(SIGTERM));
    REQUIRE(wait_until_draining(daemon, workers[0]));
    REQUIRE(probe->send(http_request("GET", "/readyz")));
    auto readiness = probe->read_responses(1, response_timeout);
    REQUIRE(readiness.size() == 1);
    CHECK(readiness[0].status == 503);
    CHECK(readiness[0].body == "draining\n");
    CHECK(readiness[0].header("Connection").value_or("(absent)") == "close");
    CHECK(probe->wait_closed(response_timeout));
    probe->close();

    auto finished = slow.read_responses(1, response_timeout);
    REQUIRE(finished.size() == 1);
    CHECK(finished[0].status == 200);
    CHECK(finished[0].header("Connection").value_or("(absent)") == "close");
    CHECK(slow.wait_closed(response_timeout));
    slow.close();

    const auto status = daemon.wait_exit(stop_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.no_worker_left());
}

TEST_CASE("SIGQUIT stops at once, cutting in-flight requests and leaving no worker", "[crash][stop]") {
    Daemon daemon({"--workers", "2", "--enable-fault-injection", "--shutdown-timeout", "60s"});
    REQUIRE(daemon.wait_for_workers(2).size() == 2);
    RawConnection slow(daemon.port());
    REQUIRE(slow.send(http_request("GET", "/debug/crash?mode=slow&ms=60000")));

    REQUIRE(daemon.send_signal(SIGQUIT));
    // Far sooner than the 60 s request or the 60 s shutdown timeout.
    const auto status = daemon.wait_exit(stop_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.count_log("SIGQUIT received: immediate stop") == 1);
    CHECK(slow.wait_closed(response_timeout));
    CHECK(slow.read_responses(1, 0ms).empty());
    CHECK(daemon.no_worker_left());
}

TEST_CASE("a second stop signal during a drain stops at once", "[crash][stop]") {
    struct Pair {
        int first;
        int second;
    };
    const Pair signals = GENERATE(values<Pair>({{SIGTERM, SIGTERM}, {SIGINT, SIGINT}, {SIGTERM, SIGINT}, {SIGTERM, SIGQUIT}}));
    INFO("signals " << signals.first << " then " << signals.second);
    Daemon daemon({"--workers", "1", "--enable-fault-injection", "--shutdown-timeout", "60s"});
    RawConnection slow(daemon.port());
    REQUIRE(slow.send(http_request("GET", "/debug/crash?mode=slow&ms=60000")));

    REQUIRE(daemon.send_signal(signals.first));
    REQUIRE(daemon.wait_for_log("stopping: draining 1 workers", stop_timeout));
    // The drain waits for the 60 s request...
    CHECK_FALSE(daemon.wait_exit(1s).has_value());
    // ...until the second signal.
    REQUIRE(daemon.send_signal(signals.second));
    const auto status = daemon.wait_exit(stop_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.count_log(std::regex(R"(worker 0 \(pid \d+\) killed by SIGKILL)")) == 1);
    CHECK(slow.wait_closed(response_timeout));
    CHECK(slow.read_responses(1, 0ms).empty());
    CHECK(daemon.no_worker_left());
}

TEST_CASE("a worker stuck past --shutdown-timeout is killed and the supervisor still exits 0", "[crash][stop]") {
    Daemon daemon({"--workers", "1", "--enable-fault-injection", "--shutdown-timeout", "500ms"});
    const auto workers = daemon.wait_for_workers(1);
    REQUIRE(workers.size() == 1);
    RawConnection hung(daemon.port());
    REQUIRE(hung.send(http_request("GET", "/debug/crash?mode=hang")));
    REQUIRE(daemon.wait_for_log("fault injection: hang on request", stop_timeout));

    REQUIRE(daemon.send_signal(SIGTERM));
    const auto status = daemon.wait_exit(stop_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.count_log("still busy after the shutdown timeout") == 1);
    CHECK(daemon.count_log("(pid " + std::to_string(workers[0]) + ") killed by SIGKILL") == 1);
    CHECK(hung.wait_closed(response_timeout));
    CHECK(daemon.no_worker_left());
}

TEST_CASE("SIGKILL of the supervisor takes every worker with it", "[crash][stop]") {
    Daemon daemon({"--workers", "3"});
    const auto workers = daemon.wait_for_workers(3);
    REQUIRE(workers.size() == 3);

    REQUIRE(daemon.send_signal(SIGKILL));
    const auto status = daemon.wait_exit(stop_timeout);
    REQUIRE(status.has_value());
    CHECK(status->signaled);
    CHECK(status->signal == SIGKILL);
    // PR_SET_PDEATHSIG: every worker follows within the grace period, none had to be killed by the test.
    const bool clean = daemon.no_worker_left(5s);
    INFO(daemon.failure());
    CHECK(clean);
    CHECK(port_refuses(daemon.port()));
}

TEST_CASE("SIGUSR1 leaves the cluster running with the same workers", "[crash][stop]") {
    const int signal = SIGUSR1;
    INFO("signal " << signal);
    Daemon daemon({"--workers", "2"});
    const auto workers = daemon.wait_for_workers(2);
    REQUIRE(workers.size() == 2);

    REQUIRE(daemon.send_signal(signal));
    CHECK(daemon.wait_for_log(" received: ", stop_timeout));
    HttpClient client(daemon.port());
    CHECK(client.get("/").status == 200);
    CHECK(daemon.running());
    CHECK(daemon.worker_pids() == workers);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("SIGTERM right after start, before the workers are ready, still stops cleanly with exit code 0",
          "[crash][stop]") {
    const int round = GENERATE(range(0, 5));
    INFO("round " << round);
    Daemon daemon(DaemonOptions{{"--workers", "4"}, {}, true, true, false, {}});
    REQUIRE(daemon.send_signal(SIGTERM));
    const auto status = daemon.wait_exit(stop_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.count_log("stopped: every worker has exited") == 1);
    CHECK(daemon.no_worker_left());
}

TEST_CASE("SIGTERM while a slot waits in backoff stops at once with exit code 0", "[crash][stop]") {
    // The slot's next try is 15 s to 30 s away: the stop must not wait for it.
    Daemon daemon(DaemonOptions{{"--workers", "1", "--enable-fault-injection", "--crash-at-start", "--backoff-initial",
                                 "30s", "--backoff-max", "60s", "--shutdown-timeout", "60s"},
                                {},
                                true,
                                true,
                                false, {}});
    REQUIRE(daemon.wait_for_log("backing off", stop_timeout));
    REQUIRE(daemon.send_signal(SIGTERM));
    const auto status = daemon.wait_exit(10s);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.count_log(" started, generation 2") == 0);
    CHECK(daemon.no_worker_left());
}

TEST_CASE("a worker that dies during the drain is not replaced and the supervisor exits 0", "[crash][stop]") {
    Daemon daemon({"--workers", "2", "--enable-fault-injection", "--shutdown-timeout", "60s", "--min-uptime", "0s"});
    const auto workers = daemon.wait_for_workers(2);
    REQUIRE(workers.size() == 2);
    RawConnection slow(daemon.port());
    REQUIRE(slow.send(http_request("GET", "/debug/crash?mode=slow&ms=60000")));
    std::optional<pid_t> busy;
    REQUIRE(eventually([&] { return (busy = daemon.worker_serving(slow.local_port())).has_value(); }, stop_timeout));

    REQUIRE(daemon.send_signal(SIGTERM));
    REQUIRE(daemon.wait_for_log("stopping: draining 2 workers", stop_timeout));
    REQUIRE(::kill(*busy, SIGKILL) == 0);
    const auto status = daemon.wait_exit(stop_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.count_log("(pid " + std::to_string(*busy) + ") killed by SIGKILL") == 1);
    CHECK(daemon.count_log("respawning") == 0);
    CHECK(daemon.count_log("generation 2") == 0);
    CHECK(daemon.no_worker_left());
}
