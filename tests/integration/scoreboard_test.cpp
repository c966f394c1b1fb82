// The scoreboard seen from outside: hang detection, crash forensics in the
// log, /metrics read by a real Prometheus parser, /status, `clusterd status`,
// and the segment's life (two memfds, never a name in /dev/shm).
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <regex>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/shm_entries.hpp"

using namespace clusterd::test;

namespace {

bool named_segment_exists(pid_t supervisor) {
    return clusterd_shm_names().count("clusterd." + std::to_string(supervisor)) != 0;
}

// Runs Debian's python3 with prometheus_client on a /metrics text and returns
// its verdict: "ok <2xx sum> <4xx sum> <families>" or the parser's error.
std::string parse_with_prometheus_client(const std::string& exposition) {
    char path[] = "/tmp/clusterd-metrics-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, exposition.data(), exposition.size()) == static_cast<ssize_t>(exposition.size()));
    close(fd);
    const std::string script =
        "import sys\n"
        "from prometheus_client.parser import text_string_to_metric_families as parse\n"
        "sums = {'2xx': 0, '4xx': 0}\n"
        "families = 0\n"
        "for family in parse(open(sys.argv[1]).read()):\n"
        "    families += 1\n"
        "    for s in family.samples:\n"
        "        if s.name == 'clusterd_requests_total' and s.labels['code'] in sums:\n"
        "            sums[s.labels['code']] += s.value\n"
        "print('ok', int(sums['2xx']), int(sums['4xx']), families)\n";
    const std::string command = "/usr/bin/python3 -c \"$(cat <<'PY'\n" + script + "PY\n)\" " + path + " 2>&1";
    std::string output;
    if (FILE* pipe = popen(command.c_str(), "r")) {
        char buffer[512];
        while (fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
        pclose(pipe);
    }
    unlink(path);
    return output;
}

}  // namespace

TEST_CASE("a SIGSTOPped worker is found hung and replaced", "[integration][scoreboard]") {
    Daemon daemon({"--workers", "2", "--hang-timeout", "1s"});
    auto workers = daemon.worker_pids();
    REQUIRE(workers.size() == worker_processes(2));
    REQUIRE(kill(workers[0], SIGSTOP) == 0);
    REQUIRE(daemon.wait_for_log(
        std::regex("\\(pid " + std::to_string(workers[0]) + "(, \\d+ loops)?\\) hung: no heartbeat for")));
    REQUIRE(eventually(
        [&] {
            auto now = daemon.worker_pids();
            return now.size() == worker_processes(2) && std::find(now.begin(), now.end(), workers[0]) == now.end();
        },
        15s));
    HttpClient client(daemon.port());
    REQUIRE(client.get("/healthz").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a worker spinning in a request is killed and the log names the request", "[integration][scoreboard]") {
    Daemon daemon({"--workers", "2", "--hang-timeout", "1s", "--enable-fault-injection"});
    HttpClient client(daemon.port(), 20s);
    auto response = client.get("/debug/crash?mode=hang");
    REQUIRE(response.status == 0);  // the connection died with the worker
    REQUIRE(daemon.wait_for_log(std::regex(R"(hung: no heartbeat for .* while serving GET /debug/crash\?mode=hang)")));
    REQUIRE(daemon.wait_for_workers(worker_processes(2)).size() == worker_processes(2));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("the log line of a crashed worker says which request it was serving", "[integration][scoreboard]") {
    Daemon daemon({"--workers", "1", "--enable-fault-injection"});
    HttpClient client(daemon.port());
    (void)client.get("/debug/crash?mode=segv&from=forensics");
    REQUIRE(daemon.wait_for_log(
        std::regex(R"(killed by SIGSEGV after .* while serving GET /debug/crash\?mode=segv&from=forensics for)")));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("/metrics parses as Prometheus text and counts the requests made", "[integration][scoreboard]") {
    Daemon daemon({"--workers", "2"});
    for (int i = 0; i < 7; ++i) {
        HttpClient client(daemon.port());
        REQUIRE(client.get("/").status == 200);
    }
    HttpClient client(daemon.port());
    for (int i = 0; i < 3; ++i) REQUIRE(client.get("/no-such-page").status == 404);
    auto metrics = client.get("/metrics");
    REQUIRE(metrics.status == 200);
    REQUIRE_THAT(*metrics.header("Content-Type"), Catch::StartsWith("text/plain; version=0.0.4"));
    const std::string verdict = parse_with_prometheus_client(metrics.body);
    INFO(verdict);
    // /metrics counts itself only once it is answered, so it is not in its own body.
    REQUIRE_THAT(verdict, Catch::StartsWith("ok 7 3 "));
    REQUIRE_THAT(metrics.body, Catch::Contains("clusterd_workers_ready 2"));
    REQUIRE_THAT(metrics.body, Catch::Contains("clusterd_connections_accepted_total{slot=\"1\"}"));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("/status and 'clusterd status' list every worker", "[integration][scoreboard]") {
    Daemon daemon({"--workers", "3"});
    auto workers = daemon.worker_pids();
    REQUIRE(workers.size() == worker_processes(3));
    HttpClient client(daemon.port());
    auto status = client.get("/status");
    REQUIRE(status.status == 200);
    REQUIRE(*status.header("Content-Type") == "application/json");
    auto table = run_clusterd({"status", "--control-socket", daemon.control_socket()});
    REQUIRE(table);
    REQUIRE(table->status.clean());
    auto json = run_clusterd({"status", "--control-socket", daemon.control_socket(), "--json"});
    REQUIRE(json);
    for (pid_t pid : workers) {
        REQUIRE_THAT(status.body, Catch::Contains("\"pid\": " + std::to_string(pid)));
        REQUIRE_THAT(table->output, Catch::Contains(" " + std::to_string(pid) + " "));
        REQUIRE_THAT(json->output, Catch::Contains("\"pid\": " + std::to_string(pid)));
    }
    REQUIRE_THAT(table->output, Catch::Contains("3/3 workers ready"));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("'clusterd status' for no running instance says so and fails", "[integration][scoreboard]") {
    auto result = run_clusterd({"status", "--name", "no-such-instance-here"});
    REQUIRE(result);
    REQUIRE(result->status.exited);
    REQUIRE(result->status.code == 1);
    REQUIRE_THAT(result->output, Catch::Contains("no clusterd instance named 'no-such-instance-here' answers"));
}

TEST_CASE("the segment is memfds with no name: nothing in /dev/shm while it runs, after a stop or a SIGKILL",
          "[integration][scoreboard]") {
    {
        Daemon daemon({"--workers", "1"});
        const auto workers = daemon.worker_pids();
        REQUIRE_FALSE(workers.empty());
        // The supervisor and its worker hold the segment by descriptor only.
        CHECK(segment_memfds(daemon.pid(), "header").size() == 1);
        CHECK(segment_memfds(daemon.pid(), "body").size() >= 1);
        CHECK(segment_memfds(workers[0], "header").size() == 1);
        CHECK(segment_memfds(workers[0], "body").size() == 1);
        CHECK_FALSE(named_segment_exists(daemon.pid()));
        REQUIRE(daemon.send_signal(SIGTERM));
        auto exit = daemon.wait_exit(15s);
        REQUIRE(exit);
        REQUIRE(exit->clean());
        CHECK_FALSE(named_segment_exists(daemon.pid()));
        CHECK(daemon.no_worker_left());
    }
    Daemon killed({"--workers", "1"});
    REQUIRE(killed.send_signal(SIGKILL));  // nothing can clean up now, and nothing has to
    REQUIRE(killed.wait_exit(15s));
    CHECK(killed.no_worker_left());
    CHECK_FALSE(named_segment_exists(killed.pid()));
    CHECK(killed.stop_and_check_clean());
}

TEST_CASE("a worker's last log line is written before the news of its death", "[integration][scoreboard]") {
    Daemon daemon({"--workers", "1", "--enable-fault-injection"});
    HttpClient client(daemon.port());
    (void)client.get("/debug/crash?mode=abort");
    REQUIRE(daemon.wait_for_log("killed by SIGABRT"));
    const std::string log = daemon.log_text();
    const auto last_words = log.find("] fault injection: abort on request");
    REQUIRE(last_words != std::string::npos);
    REQUIRE(last_words < log.find("killed by SIGABRT"));
    // Written by the supervisor, with the worker's own prefix.
    REQUIRE_THAT(log, Catch::Matches(R"((.|\n)*\[warning\] \[worker 0 [0-9]+\] fault injection: abort on request(.|\n)*)"));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a worker blocked in inline compute past --hang-timeout is replaced", "[integration][scoreboard]") {
    Daemon daemon({"--workers", "2", "--hang-timeout", "300ms", "--compute", "inline"});
    HttpClient client(daemon.port(), 60s);
    // fib(45) takes seconds of CPU on the worker's own loop.
    (void)client.get("/compute/fib?n=45");
    REQUIRE(daemon.wait_for_log(std::regex(R"(hung: no heartbeat for .* while serving JOB task fib)")));
    REQUIRE(daemon.wait_for_workers(worker_processes(2)).size() == worker_processes(2));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("with --core-on-hang a hung worker gets SIGABRT first, and SIGKILL follows when it is stopped", "[integration][scoreboard]") {
    Daemon daemon({"--workers", "2", "--hang-timeout", "500ms", "--core-on-hang"});
    auto workers = daemon.worker_pids();
    REQUIRE(workers.size() == worker_processes(2));
    REQUIRE(kill(workers.back(), SIGSTOP) == 0);
    REQUIRE(daemon.wait_for_log(std::regex("worker (process )?[01] \\(pid " + std::to_string(workers.back()) +
                                           "(, \\d+ loops)?\\) killed by SIG(ABRT|KILL) .*\\(killed: hang\\)")));
    REQUIRE(daemon.wait_for_workers(worker_processes(2)).size() == worker_processes(2));
    CHECK(daemon.stop_and_check_clean());
}
