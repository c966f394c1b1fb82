// --fork-server under real SIGKILLs and SIGSTOPs: HTTP workers started by
// fork from a prepared process are still the supervisor's own children
// (their exit status reaches it, they die with it), carry the same child
// contract and serve; a fork server that dies or hangs costs speed, never a
// worker: starts fall back to exec and it is started again. Behaviour
// only, never timings.
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/config_file.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

constexpr auto replace_timeout = 15s;

// The pid of the n-th (1-based) fork server that reported ready.
std::optional<pid_t> nth_fork_server(const Daemon& daemon, unsigned n) {
    const std::regex ready(R"(fork server \(pid (\d+)\) ready)");
    if (!daemon.wait_for_log(ready, replace_timeout, n)) return std::nullopt;
    std::istringstream lines(daemon.log_text());
    unsigned seen = 0;
    for (std::string line; std::getline(lines, line);) {
        std::smatch match;
        if (std::regex_search(line, match, ready) && ++seen == n) return static_cast<pid_t>(std::stoi(match[1]));
    }
    return std::nullopt;
}

// Where the clusterd binary is mapped in `pid` (its first mapping): the same
// in every process forked from one exec, another after each exec (ASLR).
std::string binary_base(pid_t pid) {
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    for (std::string line; std::getline(maps, line);) {
        if (line.ends_with("/clusterd")) return line.substr(0, line.find('-'));
    }
    return "";
}

pid_t parent_of(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.starts_with("PPid:")) return static_cast<pid_t>(std::stoi(line.substr(5)));
    }
    return 0;
}

std::string cmdline(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    for (char& c : text) {
        if (c == '\0') c = ' ';
    }
    return text;
}

bool started_by_fork_server(const Daemon& daemon, pid_t pid) {
    return daemon.count_log(std::regex("\\(pid " + std::to_string(pid) + "(, \\d+ loops)?\\) started by the fork server")) == 1;
}

bool all_answered(Daemon& daemon, int requests) {
    HttpClient client(daemon.port());
    for (int i = 0; i < requests; ++i) {
        if (client.get("/").status != 200) return false;
    }
    return true;
}

// The one worker of `after` that is not in `before`.
pid_t newcomer(const std::vector<pid_t>& before, const std::vector<pid_t>& after) {
    for (pid_t pid : after) {
        if (std::find(before.begin(), before.end(), pid) == before.end()) return pid;
    }
    return 0;
}

// The first fork server and the `n` workers, once it is ready and they run.
struct Started {
    pid_t server = 0;
    std::vector<pid_t> workers;
};
std::optional<Started> fork_server_and_workers(Daemon& daemon, unsigned n) {
    const auto server = nth_fork_server(daemon, 1);
    if (!server) return std::nullopt;
    auto workers = daemon.wait_for_workers(n);
    if (workers.size() != n) return std::nullopt;
    return Started{*server, std::move(workers)};
}

}  // namespace

TEST_CASE("fork server: a SIGKILLed worker is replaced by one forked without exec, the supervisor's own child",
          "[crash][fork-server]") {
    Daemon daemon({"--workers", "2", "--fork-server"});
    const auto started = fork_server_and_workers(daemon, 2);
    REQUIRE(started);
    const pid_t server = started->server;
    CHECK(parent_of(server) == daemon.pid());
    const auto& before = started->workers;
    REQUIRE(::kill(before[0], SIGKILL) == 0);
    REQUIRE(daemon.wait_for_replacement(before, 2, replace_timeout));
    const pid_t forked = newcomer(before, daemon.worker_pids());
    REQUIRE(forked != 0);
    CHECK(started_by_fork_server(daemon, forked));
    // Forked, not exec'd: the binary where the fork server has it.
    CHECK(binary_base(forked) == binary_base(server));
    CHECK_FALSE(binary_base(forked).empty());
    // Handed to the supervisor, which therefore reaps it and learns its status.
    CHECK(parent_of(forked) == daemon.pid());
    // It shows its own arguments, not the fork server's.
    CHECK_THAT(cmdline(forked), Catch::Contains("--role worker --slot 0"));
    CHECK(daemon.wait_for_log(std::regex("worker 0 \\(pid " + std::to_string(forked) + "\\) ready in")));
    CHECK(all_answered(daemon, 50));
    CHECK(daemon.wait_for_log("worker 0 (pid " + std::to_string(before[0]) + ") killed by SIGKILL"));
    // A second death of a forked worker is seen and reported like any other.
    const auto with_forked = daemon.worker_pids();
    REQUIRE(::kill(forked, SIGKILL) == 0);
    CHECK(daemon.wait_for_log("worker 0 (pid " + std::to_string(forked) + ") killed by SIGKILL"));
    REQUIRE(daemon.wait_for_replacement(with_forked, 2, replace_timeout));
    const pid_t third = newcomer(with_forked, daemon.worker_pids());
    REQUIRE(daemon.wait_for_log(std::regex("worker 0 \\(pid " + std::to_string(third) + "\\) ready in")));
    REQUIRE(daemon.send_signal(SIGTERM));
    const auto stopped = daemon.wait_exit(replace_timeout);
    REQUIRE(stopped);
    CHECK(stopped->clean());
    CHECK(daemon.no_worker_left());
    // Its clean exit at the graceful stop reaches the supervisor like any child's.
    CHECK(daemon.count_log(std::regex("\\(pid " + std::to_string(third) + "\\) exited with code 0")) == 1);
}

TEST_CASE("fork server: killed, the workers keep serving, starts fall back to exec, and another takes its place",
          "[crash][fork-server]") {
    Daemon daemon({"--workers", "2", "--fork-server"});
    const auto started = fork_server_and_workers(daemon, 2);
    REQUIRE(started);
    const pid_t first = started->server;
    const auto& before = started->workers;
    REQUIRE(::kill(first, SIGKILL) == 0);
    CHECK(daemon.wait_for_log("fork server (pid " + std::to_string(first) + ") killed by SIGKILL"));
    CHECK(daemon.worker_pids() == before);  // it takes no worker with it
    CHECK(all_answered(daemon, 20));
    const auto second = nth_fork_server(daemon, 2);
    REQUIRE(second);
    CHECK(*second != first);
    REQUIRE(::kill(before[1], SIGKILL) == 0);
    REQUIRE(daemon.wait_for_replacement(before, 2, replace_timeout));
    const pid_t replacement = newcomer(before, daemon.worker_pids());
    CHECK(started_by_fork_server(daemon, replacement));
    CHECK(binary_base(replacement) == binary_base(*second));
    CHECK(all_answered(daemon, 20));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("fork server: one that is stopped (SIGSTOP) is given up on, the worker is exec'd, and it is replaced",
          "[crash][fork-server]") {
    Daemon daemon({"--workers", "1", "--fork-server"});
    const auto started = fork_server_and_workers(daemon, 1);
    REQUIRE(started);
    const pid_t first = started->server;
    const auto& before = started->workers;
    REQUIRE(::kill(first, SIGSTOP) == 0);
    REQUIRE(::kill(before[0], SIGKILL) == 0);
    REQUIRE(daemon.wait_for_replacement(before, 1, replace_timeout));
    const pid_t replacement = daemon.worker_pids().at(0);
    CHECK_FALSE(started_by_fork_server(daemon, replacement));
    CHECK(daemon.wait_for_log("fork server: a start request was not answered within 1 s"));
    CHECK(all_answered(daemon, 20));
    REQUIRE(nth_fork_server(daemon, 2));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("fork server: with hot spares and a reload, every start after it is ready is a fork, and all are answered",
          "[crash][fork-server][spares]") {
    Daemon daemon({"--workers", "1", "--spares", "1", "--fork-server", "--worker-id-header"});
    REQUIRE(nth_fork_server(daemon, 1));
    const auto before = daemon.wait_for_workers(2);
    REQUIRE(before.size() == 2);
    auto reload = run_clusterd({"reload", "--control-socket", daemon.control_socket()}, {}, 60s);
    REQUIRE(reload);
    CHECK(reload->status.clean());
    const auto after = daemon.wait_for_workers(2);
    REQUIRE(after.size() == 2);
    for (pid_t pid : after) {
        CHECK(std::find(before.begin(), before.end(), pid) == before.end());
        CHECK(started_by_fork_server(daemon, pid));
    }
    HttpClient client(daemon.port());
    const auto answer = client.get("/healthz");
    CHECK(answer.status == 200);
    CHECK(answer.header("X-Clusterd-Worker").value_or("").size() > 2);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("fork server: under --model=threads the worker process it forks runs every loop", "[crash][fork-server][threads]") {
    Daemon daemon({"--workers", "2", "--model", "threads", "--fork-server"});
    REQUIRE(nth_fork_server(daemon, 1));
    const auto before = daemon.wait_for_workers(1);
    REQUIRE(before.size() == 1);
    REQUIRE(::kill(before[0], SIGKILL) == 0);
    REQUIRE(daemon.wait_for_replacement(before, 1, replace_timeout));
    CHECK(started_by_fork_server(daemon, daemon.worker_pids().at(0)));
    CHECK(daemon.wait_for_log("all 2 workers ready", replace_timeout, 2));
    CHECK(all_answered(daemon, 50));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("fork server: refused with a command to run, and it cannot be switched by a reload", "[crash][fork-server]") {
    const auto run = run_clusterd({"--fork-server", "--", "/bin/true"});
    REQUIRE(run);
    CHECK(run->status.exited);
    CHECK(run->status.code == 2);
    CHECK_THAT(run->output, Catch::Contains("--fork-server cannot be used with a command to run"));

    ConfigFile config;
    config.write("workers = 1\nfork-server = true\n");
    Daemon daemon({"--config", config.path()});
    REQUIRE(nth_fork_server(daemon, 1));
    const auto before = daemon.wait_for_workers(1);
    config.write("workers = 1\nfork-server = false\n");
    REQUIRE(daemon.send_signal(SIGHUP));
    CHECK(daemon.wait_for_log("--fork-server cannot change on reload"));
    CHECK(daemon.worker_pids() == before);
    CHECK(daemon.stop_and_check_clean());
}
