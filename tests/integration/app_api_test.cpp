// The application API (include/clusterd/) as a user's program sees it: the
// test app (tests/support/apps/api_app.cpp) under a real daemon, with real
// clients, under each executor: routes with parameters, 405/404, async
// replies, tasks with variable payloads, hooks, errors in user code and
// their statuses, per-route and per-task metrics, application counters.
#include <catch2/catch.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

DaemonOptions app_options(const std::string& mode, std::vector<std::string> extra = {}) {
    DaemonOptions options;
    options.args = {"--workers", "2", "--compute", mode, "--compute-threads", "2", "--compute-processes", "2"};
    options.args.insert(options.args.end(), extra.begin(), extra.end());
    options.binary = CLUSTERD_API_APP;
    return options;
}

// Sum of every sample of `name` whose labels contain each of `labels`.
double metric(std::uint16_t port, const std::string& name, const std::vector<std::string>& labels = {}) {
    HttpClient client(port);
    const std::string text = client.get("/metrics").body;
    double sum = 0;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#' || line.rfind(name, 0) != 0) continue;
        const char next = line.size() > name.size() ? line[name.size()] : '\0';
        if (next != '{' && next != ' ') continue;
        bool wanted = true;
        for (const auto& label : labels) wanted = wanted && line.find(label) != std::string::npos;
        if (wanted) sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
    return sum;
}

std::string bytes_of(std::size_t size) {
    std::string text(size, '\0');
    for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
    return text;
}

std::string reversed(const std::string& text) { return {text.rbegin(), text.rend()}; }

}  // namespace

TEST_CASE("an application's routes see their parameters, query, headers and body, by method", "[integration][app]") {
    Daemon daemon(app_options("threads"));
    HttpClient client(daemon.port());

    const HttpResponse item = client.get("/items/42%20a?q=caf%C3%A9", {{"X-Test", "yes"}});
    CHECK(item.status == 200);
    CHECK(item.header("Content-Type") == "application/json");
    CHECK(item.body == "{\"id\":\"42 a\",\"q\":\"caf\xC3\xA9\",\"header\":\"yes\",\"route\":\"/items/{id}\"}");
    CHECK(client.head("/items/1").status == 200);
    CHECK(client.request("PUT", "/items/7", "new", {}).body == "PUT 7 new\n");
    CHECK(client.request("PATCH", "/items/7", "part", {}).body == "PATCH 7 part\n");
    CHECK(client.request("DELETE", "/items/7", "", {}).body == "DELETE 7 \n");

    const HttpResponse refused = client.post("/items/7", "x");
    CHECK(refused.status == 405);
    CHECK(refused.header("Allow") == "GET, HEAD, PUT, PATCH, DELETE");
    CHECK(client.get("/echo").status == 405);
    CHECK(client.get("/items").status == 404);
    CHECK(client.get("/nothing/here").status == 404);
    CHECK(client.get("/healthz").status == 200);  // clusterd's own, beside the application's
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a task's bytes go in and come back whole under every executor", "[integration][app]") {
    const std::string mode = GENERATE("inline", "threads", "processes");
    Daemon daemon(app_options(mode));
    HttpClient client(daemon.port());
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{1024}, std::size_t{60 * 1024}}) {
        const std::string body = bytes_of(size);
        const HttpResponse echoed = client.post("/echo", body);
        INFO(mode << ", " << size << " bytes");
        REQUIRE(echoed.status == 200);
        CHECK(echoed.header("Content-Type") == "application/octet-stream");
        CHECK(echoed.body == reversed(body));
    }
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("limits on a task's bytes are 413 in and 502 out, whatever the executor", "[integration][app]") {
    const std::string mode = GENERATE("inline", "threads", "processes");
    Daemon daemon(app_options(mode, {"--task-max-input", "4KiB", "--task-max-output", "8KiB"}));
    HttpClient client(daemon.port());
    INFO(mode);
    CHECK(client.post("/echo", bytes_of(4096)).status == 200);
    const HttpResponse too_big = client.post("/echo", bytes_of(4097));
    CHECK(too_big.status == 413);
    CHECK(too_big.body.find("at most 4096 bytes") != std::string::npos);
    CHECK(client.post("/small", bytes_of(16)).status == 200);  // the task's own, smaller limit
    CHECK(client.post("/small", bytes_of(17)).status == 413);
    CHECK(client.post("/grow", "tiny").status == 200);       // 4000 bytes out
    CHECK(client.post("/grow", bytes_of(9)).status == 502);  // 9000 bytes: over the output limit
    CHECK(daemon.wait_for_log("task grow answered 9000 bytes, over its output limit of 8192 bytes"));
    CHECK(client.post("/echo", "still fine").body == "enif llits");
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a task's own deadline answers 504 although --compute-timeout is far away", "[integration][app]") {
    // inline runs the task on the loop itself: no deadline can interrupt it there.
    const std::string mode = GENERATE("threads", "processes");
    Daemon daemon(app_options(mode, {"--compute-timeout", "60s"}));
    HttpClient client(daemon.port());
    INFO(mode);
    const HttpResponse late = client.post("/slow", "x");
    CHECK(late.status == 504);
    CHECK(client.post("/echo", "after").body == "retfa");
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("errors in user code answer that request only, with the status and a log line naming it",
          "[integration][app]") {
    const std::string mode = GENERATE("inline", "threads", "processes");
    Daemon daemon(app_options(mode));
    HttpClient client(daemon.port());
    INFO(mode);
    CHECK(client.get("/throw").status == 500);
    CHECK(daemon.wait_for_log("route GET /throw threw: the handler gave up; answered 500"));
    CHECK(client.get("/drop").status == 500);
    CHECK(daemon.wait_for_log("the handler dropped its reply without answering"));
    CHECK(client.post("/fail", "x").status == 500);
    CHECK(daemon.wait_for_log("task fail threw: the task gave up"));
    const HttpResponse bad = client.post("/strict", "12x");
    CHECK(bad.status == 400);
    CHECK(bad.body == "not a number: '12x'\n");
    CHECK(client.post("/strict", "12").body == "12");
    CHECK(client.get("/missing-task").status == 500);
    CHECK(client.get("/status-odd").status == 500);
    CHECK(client.get("/items/1").status == 200);  // the worker carried on
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("an asynchronous reply may come from a timer, with the application's headers", "[integration][app]") {
    Daemon daemon(app_options("threads"));
    HttpClient client(daemon.port());
    const HttpResponse later = client.get("/later?ms=30");
    CHECK(later.status == 200);
    CHECK(later.body == "answered after 30 ms\n");
    CHECK(later.header("X-Later") == "yes");
    CHECK(later.header("Content-Length") == std::to_string(later.body.size()));  // ours, not the handler's
    CHECK(client.get("/healthz").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("the start hooks run in every worker and every compute executor before they take work",
          "[integration][app]") {
    const std::string mode = GENERATE("inline", "threads", "processes");
    Daemon daemon(app_options(mode));
    HttpClient client(daemon.port());
    INFO(mode);
    for (int i = 0; i < 6; ++i) {
        const HttpResponse hooks = client.get("/hooks");
        REQUIRE(hooks.status == 200);
        // One loop per worker process (two per process with --model threads).
        CHECK(std::regex_match(hooks.body, std::regex("worker hooks [12], compute hook ran\n")));
    }
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a worker start hook that throws fails the start: exit 2, not a restart loop", "[integration][app]") {
    DaemonOptions options = app_options("threads");
    options.env = {{"API_APP_FAIL_WORKER_HOOK", "1"}};
    options.wait_ready = false;
    Daemon daemon(options);
    CHECK(daemon.wait_for_log("the application's start hook threw: the worker hook refuses to start"));
    CHECK(daemon.wait_for_log(std::regex("worker (process )?0 .*exited with code 2")));
    CHECK(daemon.wait_for_log("circuit breaker tripped: exit code 2"));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a compute start hook that throws fails that executor's start", "[integration][app]") {
    const std::string mode = GENERATE("inline", "threads", "processes");
    DaemonOptions options = app_options(mode);
    options.env = {{"API_APP_FAIL_COMPUTE_HOOK", "1"}};
    options.wait_ready = false;
    Daemon daemon(options);
    INFO(mode);
    CHECK(daemon.wait_for_log("the compute hook refuses to start"));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a task crashing its compute process is a 502 for that request only", "[integration][app]") {
    Daemon daemon(app_options("processes", {"--enable-fault-injection"}));
    HttpClient client(daemon.port());
    CHECK(client.post("/echo", "abc").body == "cba");
    const HttpResponse crashed = client.post("/echo?crash=1", "abc");
    CHECK(crashed.status == 502);
    CHECK(daemon.wait_for_log(std::regex("compute process .* killed by SIGSEGV .*task reverse")));
    CHECK(daemon.wait_for_log("task reverse crashed its executor while serving POST /echo"));
    CHECK(client.post("/echo", "abc").body == "cba");
    // Without fault injection the flag is refused, not obeyed.
    CHECK(daemon.stop_and_check_clean());
    Daemon plain(app_options("processes"));
    HttpClient other(plain.port());
    CHECK(other.post("/echo?crash=1", "abc").status == 400);
    CHECK(plain.stop_and_check_clean());
}

TEST_CASE("metrics count requests by route pattern, jobs by task, and the application's counters",
          "[integration][app]") {
    Daemon daemon(app_options("processes"));
    HttpClient client(daemon.port());
    for (int i = 0; i < 5; ++i) REQUIRE(client.get("/items/" + std::to_string(i)).status == 200);
    REQUIRE(client.post("/echo", "abc").status == 200);
    REQUIRE(client.post("/fail", "x").status == 500);
    CHECK(metric(daemon.port(), "clusterd_route_requests_total", {"route=\"/items/{id}\"", "code=\"2xx\""}) == 5);
    CHECK(metric(daemon.port(), "clusterd_route_requests_total", {"route=\"/fail\"", "code=\"5xx\""}) == 1);
    CHECK(metric(daemon.port(), "clusterd_route_latency_seconds_count", {"route=\"/items/{id}\""}) == 5);
    CHECK(metric(daemon.port(), "clusterd_compute_jobs_total", {"task=\"reverse\"", "outcome=\"completed\""}) == 1);
    CHECK(metric(daemon.port(), "clusterd_compute_jobs_total", {"task=\"fail\"", "outcome=\"failed\""}) == 1);
    CHECK(metric(daemon.port(), "clusterd_task_run_seconds_count", {"task=\"reverse\""}) == 1);
    CHECK(metric(daemon.port(), "clusterd_task_queue_wait_seconds_count", {"task=\"reverse\""}) == 1);
    CHECK(metric(daemon.port(), "clusterd_app_hits_total") == 5);
    const std::string status = client.get("/status").body;
    CHECK(status.find("\"application\"") != std::string::npos);
    CHECK(status.find("\"hits\": 5") != std::string::npos);
    CHECK(status.find("\"route\": \"/items/{id}\"") != std::string::npos);
    CHECK(daemon.stop_and_check_clean());
}
