// Workers die (kill -9, segfault, abort, exit, crash at boot); the
// supervisor names the death, replaces the worker or backs off, and never
// goes down with them.
#include <sys/types.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <memory>
#include <regex>
#include <sstream>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

constexpr auto replace_timeout = 15s;

bool contains(const std::vector<pid_t>& pids, pid_t pid) { return std::find(pids.begin(), pids.end(), pid) != pids.end(); }

// Waits until the supervisor again has n workers, none of them `dead`.
std::vector<pid_t> wait_for_replacement(Daemon& daemon, unsigned n, pid_t dead) {
    std::vector<pid_t> workers;
    eventually(
        [&] {
            workers = daemon.worker_pids();
            return workers.size() == n && !contains(workers, dead);
        },
        replace_timeout);
    return workers;
}

// Every one of `requests` fresh connections is answered 200.
bool cluster_serves(std::uint16_t port, int requests) {
    for (int i = 0; i < requests; ++i) {
        HttpClient client(port);
        if (client.get("/").status != 200) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("a worker killed with SIGKILL is replaced and the cluster serves again", "[crash][restart]") {
    Daemon daemon({"--workers", "2"});
    const auto before = daemon.wait_for_workers(2);
    REQUIRE(before.size() == 2);
    const pid_t victim = before[0];
    REQUIRE(::kill(victim, SIGKILL) == 0);

    const std::regex death("worker \\d+ \\(pid " + std::to_string(victim) + "\\) killed by SIGKILL");
    CHECK(daemon.wait_for_log(death, replace_timeout));
    const auto after = wait_for_replacement(daemon, 2, victim);
    REQUIRE(after.size() == 2);
    CHECK_FALSE(contains(after, victim));
    CHECK(contains(after, before[1]));  // the other one was left alone
    CHECK(daemon.wait_for_log("all 2 workers ready", replace_timeout, 2));
    CHECK(daemon.running());
    CHECK(cluster_serves(daemon.port(), 10));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("every worker killed at once is replaced", "[crash][restart]") {
    Daemon daemon({"--workers", "3"});
    const auto before = daemon.wait_for_workers(3);
    REQUIRE(before.size() == 3);
    for (pid_t pid : before) REQUIRE(::kill(pid, SIGKILL) == 0);

    std::vector<pid_t> after;
    CHECK(eventually(
        [&] {
            after = daemon.worker_pids();
            return after.size() == 3 && std::none_of(before.begin(), before.end(),
                                                     [&](pid_t old) { return contains(after, old); });
        },
        replace_timeout));
    CHECK(daemon.wait_for_log("all 3 workers ready", replace_timeout, 2));
    CHECK(daemon.running());
    CHECK(cluster_serves(daemon.port(), 5));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a worker that crashes on a request is replaced and its death is named in the log", "[crash][restart]") {
    struct Fault {
        const char* mode;
        const char* death;  // as the supervisor logs it
    };
    const Fault fault = GENERATE(values<Fault>({
        {"segv", "killed by SIGSEGV"},
        {"abort", "killed by SIGABRT"},
        {"exit", "exited with code 1"},
    }));
    INFO("mode=" << fault.mode);

    Daemon daemon({"--workers", "2", "--enable-fault-injection"});
    const auto before = daemon.wait_for_workers(2);
    REQUIRE(before.size() == 2);

    HttpClient client(daemon.port());
    HttpResponse crashed = client.get(std::string("/debug/crash?mode=") + fault.mode);
    CHECK(crashed.status == 0);  // the connection died with the worker: no response
    CHECK_FALSE(crashed.error.empty());

    const auto match =
        daemon.wait_for_log_match(std::regex(std::string(R"(worker \d+ \(pid (\d+)\) )") + fault.death), replace_timeout);
    REQUIRE(match.has_value());
    const pid_t dead = static_cast<pid_t>(std::stol(match->at(0)));
    CHECK(contains(before, dead));

    const auto after = wait_for_replacement(daemon, 2, dead);
    REQUIRE(after.size() == 2);
    CHECK(daemon.wait_for_log("all 2 workers ready", replace_timeout, 2));
    CHECK(daemon.running());
    CHECK(cluster_serves(daemon.port(), 10));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a worker that hangs on a request does not stop the others from serving", "[crash][restart]") {
    Daemon daemon({"--workers", "2", "--enable-fault-injection", "--shutdown-timeout", "1s"});
    REQUIRE(daemon.wait_for_workers(2).size() == 2);

    RawConnection hung(daemon.port());
    REQUIRE(hung.send(http_request("GET", "/debug/crash?mode=hang")));
    REQUIRE(daemon.wait_for_log("fault injection: hang on request", replace_timeout));

    // Fresh connections go to the worker that still runs its loop.
    CHECK(cluster_serves(daemon.port(), 10));
    CHECK(daemon.running());
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a worker that crashes at start is backed off, then the circuit breaker trips, and the supervisor lives on",
          "[crash][restart]") {
    Daemon daemon(DaemonOptions{{"--workers", "1", "--enable-fault-injection", "--crash-at-start", "--backoff-initial",
                                 "10ms", "--breaker-deaths", "3", "--breaker-window", "10s"},
                                {},
                                true,
                                true,
                                false, {}});
    CHECK(daemon.wait_for_log("killed by SIGABRT", replace_timeout));
    CHECK(daemon.wait_for_log("backing off", replace_timeout));
    CHECK(daemon.wait_for_log("circuit breaker tripped", replace_timeout));

    const std::string log = daemon.log_text();
    const auto backoff_at = log.find("backing off");
    const auto tripped_at = log.find("circuit breaker tripped");
    REQUIRE(backoff_at != std::string::npos);
    REQUIRE(tripped_at != std::string::npos);
    CHECK(backoff_at < tripped_at);
    // Exactly breaker-deaths deaths before the breaker (then the slot rests 60 s).
    CHECK(daemon.count_log(std::regex(R"(worker 0 \(pid \d+\) killed by SIGABRT)")) == 3);
    CHECK(daemon.count_log("all 1 workers ready") == 0);

    // It stays failed and quiet; the supervisor is alive and still answers signals.
    CHECK(daemon.running());
    CHECK(daemon.worker_pids().empty());
    CHECK(daemon.send_signal(SIGTERM));
    const auto status = daemon.wait_exit(replace_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.no_worker_left());
}

TEST_CASE("with two slots crashing at start, both trip the breaker and the supervisor reports lost capacity",
          "[crash][restart]") {
    Daemon daemon(DaemonOptions{{"--workers", "2", "--enable-fault-injection", "--crash-at-start", "--backoff-initial",
                                 "10ms", "--breaker-deaths", "2", "--breaker-window", "10s"},
                                {},
                                true,
                                true,
                                false, {}});
    CHECK(daemon.wait_for_log("circuit breaker tripped", replace_timeout, 2));
    CHECK(daemon.wait_for_log(std::regex(R"(capacity: 0/2 workers ready .*2 failed)"), replace_timeout));
    CHECK(daemon.running());
    CHECK(daemon.send_signal(SIGINT));
    const auto status = daemon.wait_exit(replace_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.no_worker_left());
}

TEST_CASE("a worker that crashes loses only its own connections, and the other worker's keep-alive connection lives on",
          "[crash][restart]") {
    Daemon daemon({"--workers", "2", "--enable-fault-injection", "--idle-timeout", "60s"});
    const auto workers = daemon.wait_for_workers(2);
    REQUIRE(workers.size() == 2);

    // Open served keep-alive connections until each worker holds one.
    std::vector<std::unique_ptr<RawConnection>> connections;
    std::unique_ptr<RawConnection> on_victim;
    std::unique_ptr<RawConnection> on_survivor;
    pid_t victim = 0;
    for (int attempt = 0; attempt < 100 && !(on_victim && on_survivor); ++attempt) {
        auto connection = std::make_unique<RawConnection>(daemon.port());
        REQUIRE(connection->send(http_request("GET", "/")));
        REQUIRE(connection->read_responses(1, 10s).size() == 1);
        const auto owner = daemon.worker_serving(connection->local_port());
        REQUIRE(owner.has_value());
        if (!on_victim) {
            victim = *owner;
            on_victim = std::move(connection);
        } else if (*owner != victim && !on_survivor) {
            on_survivor = std::move(connection);
        } else {
            connections.push_back(std::move(connection));  // kept open, so the next one may go elsewhere
        }
    }
    REQUIRE(on_victim);
    REQUIRE(on_survivor);
    const pid_t survivor = victim == workers[0] ? workers[1] : workers[0];

    REQUIRE(on_victim->send(http_request("GET", "/debug/crash?mode=segv")));
    CHECK(on_victim->wait_closed(replace_timeout));
    CHECK(on_victim->read_responses(1, 0ms).empty());
    CHECK(daemon.wait_for_log("(pid " + std::to_string(victim) + ") killed by SIGSEGV", replace_timeout));

    REQUIRE(on_survivor->send(http_request("GET", "/healthz")));
    auto responses = on_survivor->read_responses(1, 10s);
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == 200);
    CHECK(daemon.worker_serving(on_survivor->local_port()).value_or(0) == survivor);

    const auto after = wait_for_replacement(daemon, 2, victim);
    REQUIRE(after.size() == 2);
    CHECK(contains(after, survivor));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a worker that ran for --min-uptime is respawned at once, a younger one is backed off", "[crash][restart]") {
    struct Policy {
        const char* min_uptime;
        const char* decision;  // in the supervisor's log
    };
    const Policy policy = GENERATE(values<Policy>({{"0s", "respawning at once"}, {"10m", "backing off"}}));
    INFO("--min-uptime " << policy.min_uptime);

    Daemon daemon({"--workers", "2", "--min-uptime", policy.min_uptime, "--backoff-initial", "200ms"});
    const auto before = daemon.wait_for_workers(2);
    REQUIRE(before.size() == 2);
    REQUIRE(::kill(before[1], SIGKILL) == 0);

    CHECK(daemon.wait_for_log(std::regex(R"(worker \d: )" + std::string(policy.decision)), replace_timeout));
    // Readiness tells the truth about the lost capacity meanwhile.
    CHECK(daemon.wait_for_log("capacity: 1/2 workers ready", replace_timeout));
    const auto after = wait_for_replacement(daemon, 2, before[1]);
    REQUIRE(after.size() == 2);
    CHECK(daemon.wait_for_log("all 2 workers ready", replace_timeout, 2));
    CHECK(cluster_serves(daemon.port(), 5));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a failed slot gets one trial after --breaker-cooldown, and the breaker trips again when it dies young", "[crash][restart]") {
    Daemon daemon(DaemonOptions{{"--workers", "1", "--enable-fault-injection", "--crash-at-start", "--backoff-initial",
                                 "10ms", "--breaker-deaths", "2", "--breaker-window", "10s", "--breaker-cooldown",
                                 "300ms"},
                                {},
                                true,
                                true,
                                false, {}});
    REQUIRE(daemon.wait_for_log("circuit breaker tripped", replace_timeout));
    const unsigned deaths_at_first_trip = daemon.count_log("killed by SIGABRT");
    CHECK(deaths_at_first_trip == 2);
    // After the cooldown a new worker is tried, and the breaker trips again:
    // the slot rests between series instead of crash-looping.
    CHECK(daemon.wait_for_log("circuit breaker tripped", replace_timeout, 2));
    CHECK(daemon.count_log("killed by SIGABRT") > deaths_at_first_trip);

    const std::string log = daemon.log_text();
    std::size_t deaths_between = 0;
    std::vector<std::size_t> deaths_before_trip;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
        if (line.find("killed by SIGABRT") != std::string::npos) ++deaths_between;
        if (line.find("circuit breaker tripped") != std::string::npos) {
            deaths_before_trip.push_back(deaths_between);
            deaths_between = 0;
        }
    }
    REQUIRE(deaths_before_trip.size() >= 2);
    CHECK(deaths_before_trip[0] == 2);  // --breaker-deaths young deaths open the breaker
    CHECK(deaths_before_trip[1] == 1);  // half-open: the one trial died young, so it opens again at once
    CHECK(daemon.running());
    CHECK(daemon.send_signal(SIGTERM));
    const auto status = daemon.wait_exit(replace_timeout);
    REQUIRE(status.has_value());
    CHECK(status->to_string() == "exited with code 0");
    CHECK(daemon.no_worker_left());
}
