// The admin listener (--admin-listen): the cluster's /metrics, /status and
// probes from one supervised admin worker on its own socket, for a program
// run with '--' (which serves none of them) and to keep them off the public
// port (--admin-only-metrics). Real clients, real SIGKILLs, real reloads.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

// The port the admin worker serves, from the supervisor's log.
std::uint16_t admin_port(const Daemon& daemon) {
    const auto match = daemon.wait_for_log_match(std::regex(R"(admin listener \(metrics, status, probes\) on [^ ]+:(\d+))"));
    REQUIRE(match);
    return static_cast<std::uint16_t>(std::stoi(match->at(0)));
}

std::string cmdline_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (char& c : text) c = c == '\0' ? ' ' : c;
    return text;
}

// The supervisor's live child in the admin role; 0 if none. (worker_pids()
// counts HTTP workers and compute processes only; the teardown still checks
// that every child, this one included, is gone.)
pid_t admin_pid(const Daemon& daemon) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        const auto close = text.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream fields(text.substr(close + 1));
        char state = 0;
        pid_t parent = 0;
        if (!(fields >> state >> parent) || parent != daemon.pid() || state == 'Z') continue;
        const pid_t pid = std::stoi(name);
        if (cmdline_of(pid).find("--role admin") != std::string::npos) return pid;
    }
    return 0;
}

void require_program(const char* program) {
    if (std::system((std::string("command -v ") + program + " >/dev/null 2>&1").c_str()) != 0) {
        FAIL(std::string(program) + " is not installed (make test installs it)");
    }
}

}  // namespace

TEST_CASE("the admin listener serves the whole cluster's metrics and status for a program that serves none",
          "[crash][admin]") {
    require_program("python3");
    Daemon daemon({"--workers", "2", "--admin-listen", "127.0.0.1:0", "--", "python3",
                   CLUSTERD_TEST_APPS "/python_server.py"});
    const std::uint16_t port = admin_port(daemon);
    HttpClient admin(port);
    // /proc figures arrive with the supervisor's next sample (about a second).
    CHECK(eventually(
        [&] {
            const auto metrics = admin.get("/metrics");
            return metrics.status == 200 &&
                   std::regex_search(metrics.body, std::regex(R"(clusterd_worker_resident_bytes\{slot="[01]"\} [1-9])"));
        },
        10s, 100ms));
    const auto metrics = admin.get("/metrics");
    CHECK_THAT(metrics.body, Catch::Contains("clusterd_workers_ready 2"));
    CHECK_THAT(metrics.body, Catch::Contains("clusterd_worker_cpu_seconds_total{slot=\"0\"}"));
    CHECK_THAT(metrics.header("Content-Type").value_or(""), Catch::Contains("text/plain; version=0.0.4"));

    // STATUS= as the program said it (python_server.py: "serving as python worker K pid P").
    const auto status = admin.get("/status");
    CHECK(status.status == 200);
    CHECK_THAT(status.body, Catch::Matches(R"([\s\S]*"program_status": "serving as python worker [01] pid \d+"[\s\S]*)"));
    CHECK(std::regex_search(status.body, std::regex(R"("rss_bytes": [1-9]\d{5,})")));  // a python has MBs
    const auto table = run_clusterd({"status", "--control-socket", daemon.control_socket()});
    REQUIRE(table);
    CHECK_THAT(table->output, Catch::Contains("serving as python worker"));
    CHECK(std::regex_search(table->output, std::regex(R"( \d+\.\dM +\d+\.\d\ds )")));  // rss and cpu columns

    CHECK(admin.get("/healthz").status == 200);
    CHECK(admin.get("/readyz").status == 200);
    CHECK(admin.get("/").status == 404);  // the program's routes are the program's
    CHECK(HttpClient(daemon.port()).get("/").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("with --admin-only-metrics, /metrics and /status stay off the public port while probes stay on both",
          "[crash][admin]") {
    Daemon daemon({"--workers", "1", "--admin-listen", "127.0.0.1:0", "--admin-only-metrics"});
    const std::uint16_t port = admin_port(daemon);
    HttpClient public_port(daemon.port());
    HttpClient admin(port);
    CHECK(public_port.get("/metrics").status == 404);
    CHECK(public_port.get("/status").status == 404);
    CHECK(public_port.get("/healthz").status == 200);
    CHECK(public_port.get("/").status == 200);
    CHECK(admin.get("/metrics").status == 200);
    CHECK(admin.get("/status").status == 200);
    CHECK(admin.get("/").status == 404);  // no application route on the admin socket
    CHECK(admin.get("/compute/fib?n=10").status == 404);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a killed admin worker is replaced and scrapes are answered across reloads", "[crash][admin]") {
    Daemon daemon({"--workers", "2", "--admin-listen", "127.0.0.1:0"});
    const std::uint16_t port = admin_port(daemon);
    REQUIRE(daemon.wait_for_log("admin worker (pid"));
    const pid_t first = admin_pid(daemon);
    REQUIRE(first != 0);
    const auto workers = daemon.worker_pids();
    REQUIRE(::kill(first, SIGKILL) == 0);
    CHECK(daemon.wait_for_log(std::regex(R"(admin worker on \S+ killed by SIGKILL after .*; starting another)")));
    CHECK(eventually([&] { return admin_pid(daemon) != 0 && admin_pid(daemon) != first; }, 10s));
    CHECK(eventually([&] { return HttpClient(port).get("/healthz").status == 200; }, 10s, 50ms));
    CHECK(daemon.worker_pids() == workers);  // the HTTP workers did not notice

    // A scraper that never stops while two reloads replace the admin worker.
    std::atomic<bool> done{false};
    std::map<long, int> answers;
    std::thread scraper([&] {
        while (!done.load()) {
            HttpClient client(port, 5s);  // a new connection each time: each may meet another process
            answers[client.get("/metrics").status] += 1;
        }
    });
    for (int reload = 1; reload <= 2; ++reload) {
        const auto reloaded = run_clusterd({"reload", "--control-socket", daemon.control_socket()});
        REQUIRE(reloaded);
        CHECK(reloaded->status.clean());
        CHECK(daemon.wait_for_log("admin worker (pid", startup_timeout, static_cast<unsigned>(2 + reload)));
    }
    std::this_thread::sleep_for(300ms);  // scrapes against the last successor too
    done = true;
    scraper.join();
    INFO(daemon.log_text());
    CHECK(answers.size() == 1);
    CHECK(answers[200] > 0);
    CHECK(daemon.count_log("took over") == 2);

    // At stop it drains last and the supervisor exits 0 with nothing left.
    REQUIRE(daemon.send_signal(SIGTERM));
    const auto status = daemon.wait_exit(15s);
    REQUIRE(status);
    CHECK(status->clean());
    CHECK(daemon.no_worker_left());
}
