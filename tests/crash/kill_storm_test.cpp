// A storm of external kills of ready workers (an OOM killer, a chaos test,
// an operator) is no crash loop: with default options, 10 kills a second
// for 10 s never trip the breaker, /healthz is answered throughout by the
// survivors, and the cluster ends with every slot ready.
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

constexpr unsigned workers = 4;
constexpr int kills = 100;  // 10 per second for 10 s
constexpr auto between_kills = 100ms;

// The pids the supervisor has reported ready, from its log.
std::set<pid_t> ready_pids(const Daemon& daemon) {
    static const std::regex ready(R"(\(pid (\d+)\) ready in)");
    std::set<pid_t> pids;
    std::istringstream lines(daemon.log_text());
    for (std::string line; std::getline(lines, line);) {
        std::smatch match;
        if (std::regex_search(line, match, ready)) pids.insert(static_cast<pid_t>(std::stol(match[1])));
    }
    return pids;
}

std::string metric(const std::string& text, const std::string& name) {
    const auto at = text.find("\n" + name + " ");
    if (at == std::string::npos) return "missing";
    const auto start = at + name.size() + 2;
    return text.substr(start, text.find('\n', start) - start);
}

}  // namespace

TEST_CASE("a storm of kills of ready workers at 10/s for 10 s never trips the breaker and /healthz keeps answering",
          "[crash][kill_storm]") {
    if (threads_model()) return;  // one process: a kill takes every loop, by design
    Daemon daemon({"--workers", std::to_string(workers)});
    REQUIRE(daemon.wait_for_workers(workers).size() == workers);

    std::atomic<bool> storming{true};
    std::atomic<int> probes{0};
    std::atomic<int> answered{0};
    std::atomic<int> worst_streak{0};
    std::thread prober([&] {
        int streak = 0;
        while (storming) {
            HttpClient client(daemon.port(), 5s);
            ++probes;
            if (client.get("/healthz").status == 200) {
                ++answered;
                streak = 0;
            } else {
                worst_streak = std::max(worst_streak.load(), ++streak);
            }
            std::this_thread::sleep_for(10ms);
        }
    });

    std::mt19937 random(12345);
    const int signals[] = {SIGKILL, SIGSEGV, SIGABRT};
    int sent = 0;
    for (int i = 0; i < kills; ++i) {
        std::this_thread::sleep_for(between_kills);
        const auto ready = ready_pids(daemon);
        std::vector<pid_t> victims;
        for (pid_t pid : daemon.worker_pids()) {
            if (ready.contains(pid)) victims.push_back(pid);
        }
        if (victims.empty()) continue;  // every slot is coming back: wait for one
        const pid_t victim = victims[random() % victims.size()];
        if (::kill(victim, signals[random() % 3]) == 0) ++sent;
    }
    storming = false;
    prober.join();
    INFO("kills sent: " << sent << ", /healthz probes: " << probes << ", answered: " << answered
                        << ", worst run of unanswered probes: " << worst_streak);
    CHECK(sent >= kills / 2);
    // A probe may land on the worker being killed; the next ones are answered.
    CHECK(worst_streak <= 3);
    CHECK(answered > 0);

    CHECK(eventually([&] { return daemon.wait_for_workers(workers, 1s).size() == workers; }, 20s));
    CHECK(daemon.count_log("circuit breaker tripped") == 0);
    HttpClient client(daemon.port());
    CHECK(eventually(
        [&] {
            const std::string text = client.get("/metrics").body;
            return metric(text, "clusterd_workers_ready") == std::to_string(workers) &&
                   metric(text, "clusterd_workers_failed") == "0" &&
                   metric(text, "clusterd_breaker_trips_total") == "0";
        },
        20s));
    const std::string text = client.get("/metrics").body;
    CHECK_THAT(text, Catch::Contains("clusterd_worker_deaths_by_readiness_total{readiness=\"after_ready\"}"));
    CHECK(daemon.stop_and_check_clean());
}
