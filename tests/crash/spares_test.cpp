// Hot spares (--spares K) under real SIGKILLs: a spare is a worker process
// started and ready that does not accept; when a serving one dies the
// supervisor promotes the spare (a command-ring message, no exec), so the
// first answer after the kill comes from a process that existed before it.
// A spare that dies is restarted without touching the serving workers; a
// reload replaces the spares; readiness counts only serving workers.
// Behaviour only, never timings.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <memory>
#include <optional>
#include <sstream>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

constexpr auto replace_timeout = 15s;

struct Spare {
    unsigned slot = 0;
    pid_t pid = 0;
};

// The n-th (1-based) hot spare that reported ready, from the supervisor's log.
std::optional<Spare> nth_ready_spare(const Daemon& daemon, unsigned n) {
    const std::regex ready(R"(worker(?: process)? (\d+) \(pid (\d+)\) ready in [0-9.]+ ms \(hot spare)");
    if (!daemon.wait_for_log(ready, replace_timeout, n)) return std::nullopt;
    std::istringstream lines(daemon.log_text());
    unsigned seen = 0;
    for (std::string line; std::getline(lines, line);) {
        std::smatch match;
        if (std::regex_search(line, match, ready) && ++seen == n) {
            return Spare{static_cast<unsigned>(std::stoul(match[1])), static_cast<pid_t>(std::stoi(match[2]))};
        }
    }
    return std::nullopt;
}

bool contains(const std::vector<pid_t>& pids, pid_t pid) { return std::find(pids.begin(), pids.end(), pid) != pids.end(); }

std::vector<pid_t> without(std::vector<pid_t> pids, pid_t pid) {
    pids.erase(std::remove(pids.begin(), pids.end(), pid), pids.end());
    return pids;
}

// The first ready spare and the serving worker processes, once all `processes` run.
struct Roles {
    Spare spare;
    std::vector<pid_t> serving;
};
std::optional<Roles> wait_for_roles(Daemon& daemon, unsigned processes) {
    const auto spare = nth_ready_spare(daemon, 1);
    if (!spare) return std::nullopt;
    const auto pids = daemon.wait_for_workers(processes);
    if (pids.size() != processes || !contains(pids, spare->pid)) return std::nullopt;
    return Roles{*spare, without(pids, spare->pid)};
}

// One request on a fresh connection: the worker that answered it (by the
// socket it holds) and its X-Clusterd-Worker header; pid 0 if no answer.
struct Answer {
    pid_t pid = 0;
    std::string worker_id;
};
Answer answer_on_fresh_connection(Daemon& daemon, const std::string& path = "/healthz") {
    try {
        RawConnection connection(daemon.port(), 2s);
        if (!connection.send(http_request("GET", path))) return {};
        auto responses = connection.read_responses(1, 2s);
        if (responses.size() != 1 || responses[0].status != 200) return {};
        return {daemon.worker_serving(connection.local_port()).value_or(0),
                responses[0].header("X-Clusterd-Worker").value_or("")};
    } catch (const std::exception&) {
        return {};
    }
}

std::string metric_line(HttpClient& client, const std::string& name) {
    const auto body = client.get("/metrics").body;
    std::istringstream lines(body);
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with(name + " ")) return line;
    }
    return "";
}

std::vector<std::string> threads(std::vector<std::string> args) {
    if (!threads_model()) args.insert(args.end(), {"--model", "threads"});
    return args;
}

}  // namespace

TEST_CASE("spares: a spare is ready but takes no connection, and readiness counts only serving workers",
          "[crash][spares]") {
    Daemon daemon({"--workers", "1", "--spares", "1", "--worker-id-header"});
    const auto roles = wait_for_roles(daemon, 2);
    REQUIRE(roles);
    const auto* spare = &roles->spare;
    const pid_t serving = roles->serving.at(0);
    CHECK(daemon.holds_listener(spare->pid));  // it holds the socket, initialised, and does not accept
    for (int i = 0; i < 20; ++i) {
        const auto answer = answer_on_fresh_connection(daemon);
        CHECK(answer.pid == serving);
        CHECK(answer.worker_id.starts_with("0-") == (answer.pid == serving));
    }
    HttpClient client(daemon.port());
    CHECK(metric_line(client, "clusterd_workers_ready") == "clusterd_workers_ready 1");
    CHECK(metric_line(client, "clusterd_spare_workers") == "clusterd_spare_workers 1");
    CHECK(metric_line(client, "clusterd_spare_promotions_total") == "clusterd_spare_promotions_total 0");
    const auto status = client.get("/status");
    CHECK_THAT(status.body, Catch::Contains("\"spares_ready\": 1"));
    CHECK_THAT(status.body, Catch::Contains("\"spare\": true"));
    auto table = run_clusterd({"status", "--control-socket", daemon.control_socket()});
    REQUIRE(table);
    CHECK(std::regex_search(table->output, std::regex("\\n\\s*" + std::to_string(spare->slot) + "\\s+spare\\s+" +
                                                      std::to_string(spare->pid) + "\\s+\\d+\\s+ready")));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("spares: after a SIGKILL of the serving worker the spare answers first, and a new spare starts behind it",
          "[crash][spares]") {
    Daemon daemon({"--workers", "1", "--spares", "1", "--worker-id-header"});
    const auto roles = wait_for_roles(daemon, 2);
    REQUIRE(roles);
    const auto* spare = &roles->spare;
    const pid_t victim = roles->serving.at(0);
    const auto before = answer_on_fresh_connection(daemon);
    REQUIRE(before.pid == victim);

    REQUIRE(::kill(victim, SIGKILL) == 0);
    // The first answer after the kill: the spare's pid, which existed before it (no exec on that path).
    Answer first;
    REQUIRE(eventually([&] { return (first = answer_on_fresh_connection(daemon)).pid != 0; }, replace_timeout));
    CHECK(first.pid == spare->pid);
    CHECK(first.worker_id.starts_with(std::to_string(spare->slot) + "-"));
    CHECK(first.worker_id != before.worker_id);
    CHECK(daemon.wait_for_log("hot spare " + std::to_string(spare->slot) + " (pid " + std::to_string(spare->pid) +
                              ") promoted"));
    // The dead slot is restarted, by the restart policy, as the next spare.
    const auto next = nth_ready_spare(daemon, 2);
    REQUIRE(next);
    CHECK(next->pid != spare->pid);
    CHECK(next->pid != victim);
    HttpClient client(daemon.port());
    CHECK(eventually([&] { return metric_line(client, "clusterd_spare_workers") == "clusterd_spare_workers 1"; },
                     replace_timeout));
    CHECK(metric_line(client, "clusterd_spare_promotions_total") == "clusterd_spare_promotions_total 1");
    CHECK(metric_line(client, "clusterd_workers_ready") == "clusterd_workers_ready 1");
    // And the promoted one keeps serving.
    CHECK(answer_on_fresh_connection(daemon).pid == spare->pid);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("spares: a spare that is SIGKILLed is restarted and the serving workers are not touched", "[crash][spares]") {
    Daemon daemon({"--workers", "2", "--spares", "1"});
    const auto roles = wait_for_roles(daemon, 3);
    REQUIRE(roles);
    const auto* spare = &roles->spare;
    const auto serving = roles->serving;
    CHECK(answer_on_fresh_connection(daemon).worker_id.empty());  // no --worker-id-header: no such header
    REQUIRE(::kill(spare->pid, SIGKILL) == 0);
    const auto next = nth_ready_spare(daemon, 2);
    REQUIRE(next);
    CHECK(next->slot == spare->slot);
    CHECK(next->pid != spare->pid);
    const auto after = daemon.wait_for_workers(3);
    REQUIRE(after.size() == 3);
    CHECK(without(after, next->pid) == serving);  // the same serving processes, none promoted or drained
    CHECK(daemon.count_log("promoted") == 0);
    CHECK(daemon.count_log("drains and leaves") == 0);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("spares: a reload replaces the spares with ones of the new configuration, then every serving worker",
          "[crash][spares]") {
    Daemon daemon({"--workers", "2", "--spares", "1"});
    REQUIRE(wait_for_roles(daemon, 3));
    const auto before = daemon.worker_pids();
    REQUIRE(before.size() == 3);
    auto reload = run_clusterd({"reload", "--control-socket", daemon.control_socket()}, {}, 60s);
    REQUIRE(reload);
    CHECK(reload->status.clean());
    CHECK_THAT(reload->output, Catch::Contains("configuration generation 2"));
    CHECK(daemon.wait_for_log("reload: a new spare replaces it"));
    const auto after = daemon.wait_for_workers(3);
    REQUIRE(after.size() == 3);
    for (pid_t pid : before) CHECK_FALSE(contains(after, pid));  // spare and serving workers all replaced
    HttpClient client(daemon.port());
    CHECK(metric_line(client, "clusterd_spare_workers") == "clusterd_spare_workers 1");
    CHECK(metric_line(client, "clusterd_workers_ready") == "clusterd_workers_ready 2");
    // Each serving worker was replaced by promoting a spare of the new configuration.
    CHECK(daemon.count_log(std::regex("hot spare \\d+ \\(pid \\d+\\) promoted: reload")) == 2);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("spares: with --model=threads a SIGKILL of the serving process leaves the cluster answering from the spare",
          "[crash][spares][threads]") {
    Daemon daemon(threads({"--workers", "2", "--spares", "1"}));
    const auto roles = wait_for_roles(daemon, 2);
    REQUIRE(roles);
    const auto* spare = &roles->spare;
    const pid_t victim = roles->serving.at(0);
    REQUIRE(answer_on_fresh_connection(daemon).pid == victim);
    REQUIRE(::kill(victim, SIGKILL) == 0);
    Answer first;
    REQUIRE(eventually([&] { return (first = answer_on_fresh_connection(daemon)).pid != 0; }, replace_timeout));
    CHECK(first.pid == spare->pid);
    HttpClient client(daemon.port());
    CHECK(eventually([&] { return metric_line(client, "clusterd_workers_ready") == "clusterd_workers_ready 2"; },
                     replace_timeout));
    REQUIRE(nth_ready_spare(daemon, 2));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("spares: refused with a command to run, which gets its socket at exec and cannot wait to accept",
          "[crash][spares]") {
    const auto run = run_clusterd({"--spares", "1", "--", "/bin/true"});
    REQUIRE(run);
    CHECK(run->status.exited);
    CHECK(run->status.code == 2);
    CHECK_THAT(run->output, Catch::Contains("--spares cannot be used with a command to run"));
}

TEST_CASE("spares: a graceful stop right after a promotion, with the next spare not yet started, ends cleanly",
          "[crash][spares]") {
    Daemon daemon({"--workers", "1", "--spares", "1"});
    const auto roles = wait_for_roles(daemon, 2);
    REQUIRE(roles);
    REQUIRE(::kill(roles->serving.at(0), SIGKILL) == 0);
    REQUIRE(daemon.wait_for_log("restarts as the next hot spare"));
    REQUIRE(daemon.send_signal(SIGTERM));
    const auto status = daemon.wait_exit(replace_timeout);
    REQUIRE(status);
    CHECK(status->clean());
    CHECK(daemon.no_worker_left());
}

TEST_CASE("spares: a worker past --max-requests is replaced by promoting the spare, it drains, every request is answered",
          "[crash][spares]") {
    Daemon daemon({"--workers", "1", "--spares", "1", "--max-requests", "20"});
    const auto roles = wait_for_roles(daemon, 2);
    REQUIRE(roles);
    const pid_t first = roles->serving.at(0);
    std::vector<pid_t> answered_by;
    for (int i = 0; i < 60; ++i) {
        const auto answer = answer_on_fresh_connection(daemon);
        CHECK(answer.pid != 0);  // answered 200: nothing is lost across the promotions
        answered_by.push_back(answer.pid);
    }
    CHECK(daemon.wait_for_log("hot spare " + std::to_string(roles->spare.slot) + " (pid " +
                              std::to_string(roles->spare.pid) + ") promoted: replaces worker"));
    CHECK(daemon.wait_for_log(std::regex("took its place \\(it served --max-requests\\); worker \\d+ \\(pid " +
                                         std::to_string(first) + "\\) drains")));
    CHECK(contains(answered_by, roles->spare.pid));  // the spare served after the promotion, no exec in between
    CHECK(daemon.stop_and_check_clean());
}
