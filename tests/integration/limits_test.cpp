// Every request limit answers with its status, closes that connection, and
// leaves the worker serving: the same worker processes answer the next request.
#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <tuple>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/non_reading_client.hpp"

using namespace clusterd::test;

namespace {

constexpr auto response_timeout = 10s;

struct BadRequest {
    const char* what;
    std::string bytes;
    int status;
};

std::string header_of_size(std::size_t size) { return "X-Padding: " + std::string(size, 'a') + "\r\n"; }

// The test application (tests/support/apps/api_app.cpp): POST /echo takes a body up
// to --max-body-size, POST /tiny up to 16 bytes, GET routes none.
DaemonOptions api_app(std::vector<std::string> args) {
    DaemonOptions options;
    options.args = std::move(args);
    options.binary = CLUSTERD_API_APP;
    return options;
}

}  // namespace

TEST_CASE("each malformed or oversized request gets its status and the worker keeps serving", "[integration][limits]") {
    const BadRequest bad = GENERATE(values<BadRequest>({
        {"a head over --max-header-size", http_request("GET", "/", header_of_size(2048)), 431},
        {"a request line over --max-header-size", http_request("GET", "/" + std::string(2048, 'p')), 431},
        {"a Content-Length over --max-body-size (refused right after the head, no body sent)",
         http_request("POST", "/echo", "Content-Length: 2048\r\n"), 413},
        {"a chunked body over --max-body-size",
         http_request("POST", "/echo", "Transfer-Encoding: chunked\r\n") + "800\r\n" + std::string(2048, 'b') +
             "\r\n0\r\n\r\n",
         413},
        {"Content-Length together with Transfer-Encoding",
         http_request("POST", "/echo", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n", 400},
        {"two different Content-Lengths", http_request("POST", "/echo", "Content-Length: 1\r\nContent-Length: 2\r\n") + "xy",
         400},
        {"garbage instead of a request line", std::string("\x01\x02 this is not http \xff\r\n\r\n"), 400},
        {"HTTP/1.1 without Host", std::string("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), 400},
        {"two Host lines (RFC 9112 3.2)", std::string("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400},
        {"an invalid Host value", std::string("GET / HTTP/1.1\r\nHost: evil.example/x@y\r\n\r\n"), 400},
        {"a header line without a colon", http_request("GET", "/", "NoColonHere\r\n"), 400},
        {"an HTTP/2.0 request line", std::string("GET / HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n"), 505},
        {"a body for a route that takes none (refused from the head, no body sent)",
         http_request("GET", "/items/1", "Content-Length: 10\r\n"), 413},
        {"a chunked body for a route that takes none", http_request("GET", "/healthz", "Transfer-Encoding: chunked\r\n"),
         413},
        {"a body over the route's own limit (RouteOptions::max_body)",
         http_request("POST", "/tiny", "Content-Length: 17\r\n") + std::string(17, 'b'), 413},
    }));
    INFO(bad.what);

    Daemon daemon(api_app({"--workers", "1", "--max-header-size", "1KiB", "--max-body-size", "1KiB"}));
    const auto workers = daemon.wait_for_workers(worker_processes(1));
    REQUIRE(workers.size() == worker_processes(1));

    RawConnection connection(daemon.port());
    REQUIRE(connection.send(bad.bytes));
    auto responses = connection.read_responses(1, response_timeout);
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == bad.status);
    CHECK(responses[0].header("Connection").value_or("(absent)") == "close");
    CHECK(connection.wait_closed(response_timeout));

    HttpClient client(daemon.port());
    HttpResponse after = client.get("/healthz");
    INFO(after.error);
    CHECK(after.status == 200);
    CHECK(daemon.worker_pids() == workers);
    CHECK(daemon.count_log("killed by") == 0);
    CHECK(daemon.count_log("exited with code") == 0);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("requests within the limits are not refused by them", "[integration][limits]") {
    Daemon daemon(api_app({"--workers", "1", "--max-header-size", "1KiB", "--max-body-size", "1KiB"}));
    RawConnection connection(daemon.port());

    // A head just under the limit, a body just under --max-body-size, one at the route's own limit.
    REQUIRE(connection.send(http_request("GET", "/healthz", header_of_size(700))));
    auto first = connection.read_responses(1, response_timeout);
    REQUIRE(first.size() == 1);
    CHECK(first[0].status == 200);

    REQUIRE(connection.send(http_request("POST", "/echo", "Content-Length: 1000\r\n") + std::string(1000, 'b')));
    auto second = connection.read_responses(1, response_timeout);
    REQUIRE(second.size() == 1);
    CHECK(second[0].status == 200);
    CHECK(second[0].body == std::string(1000, 'b'));

    REQUIRE(connection.send(http_request("POST", "/tiny", "Content-Length: 16\r\n") + std::string(16, 't')));
    auto third = connection.read_responses(1, response_timeout);
    REQUIRE(third.size() == 1);
    CHECK(third[0].status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a request head that does not arrive in time gets 408 and the connection is closed",
          "[integration][limits]") {
    Daemon daemon({"--workers", "1", "--header-timeout", "300ms"});
    const auto workers = daemon.wait_for_workers(worker_processes(1));
    REQUIRE(workers.size() == worker_processes(1));

    SECTION("a partial request line, then silence") {
        RawConnection connection(daemon.port());
        REQUIRE(connection.send("GET / HT"));
        auto responses = connection.read_responses(1, response_timeout);
        REQUIRE(responses.size() == 1);
        CHECK(responses[0].status == 408);
        CHECK(responses[0].header("Connection").value_or("(absent)") == "close");
        CHECK(connection.wait_closed(response_timeout));
    }
    SECTION("a slowloris trickling one byte at a time") {
        RawConnection connection(daemon.port());
        const std::string request = http_request("GET", "/", header_of_size(4000));
        std::vector<RawResponse> responses;
        // Bounded: the whole head would take 200 s at this pace.
        for (std::size_t i = 0; i < request.size() && responses.empty() && !connection.closed(); ++i) {
            if (!connection.send(request.substr(i, 1))) break;
            responses = connection.read_responses(1, 50ms);
        }
        if (responses.empty()) responses = connection.read_responses(1, response_timeout);
        REQUIRE(responses.size() == 1);
        CHECK(responses[0].status == 408);
        CHECK(connection.wait_closed(response_timeout));
    }

    HttpClient client(daemon.port());
    CHECK(client.get("/").status == 200);
    CHECK(daemon.worker_pids() == workers);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("an idle keep-alive connection is closed by the server after --idle-timeout", "[integration][limits]") {
    Daemon daemon({"--workers", "1", "--idle-timeout", "300ms"});

    SECTION("after a request") {
        RawConnection connection(daemon.port());
        REQUIRE(connection.send(http_request("GET", "/healthz")));
        auto responses = connection.read_responses(1, response_timeout);
        REQUIRE(responses.size() == 1);
        CHECK(responses[0].status == 200);
        CHECK(responses[0].header("Connection").value_or("(absent)") != "close");
        CHECK(connection.wait_closed(response_timeout));
        CHECK(connection.received().empty());  // closed silently, no 408
    }
    SECTION("without any request") {
        RawConnection connection(daemon.port());
        CHECK(connection.wait_closed(response_timeout));
        CHECK(connection.received().empty());
    }

    HttpClient client(daemon.port());
    CHECK(client.get("/").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("connections over --max-connections get 503 with Retry-After, and capacity comes back",
          "[integration][limits]") {
    Daemon daemon({"--workers", "1", "--max-connections", "2", "--idle-timeout", "60s"});

    // Two admitted connections, held open and idle.
    auto first = std::make_unique<RawConnection>(daemon.port());
    RawConnection second(daemon.port());
    for (RawConnection* connection : {first.get(), &second}) {
        REQUIRE(connection->send(http_request("GET", "/healthz")));
        auto responses = connection->read_responses(1, response_timeout);
        REQUIRE(responses.size() == 1);
        REQUIRE(responses[0].status == 200);
    }

    RawConnection third(daemon.port());
    auto refused = third.read_responses(1, response_timeout);
    REQUIRE(refused.size() == 1);
    CHECK(refused[0].status == 503);
    CHECK(refused[0].header("Retry-After").has_value());
    CHECK(refused[0].header("Connection").value_or("(absent)") == "close");
    CHECK(third.wait_closed(response_timeout));

    // The held connections still work.
    REQUIRE(second.send(http_request("GET", "/")));
    auto still = second.read_responses(1, response_timeout);
    REQUIRE(still.size() == 1);
    CHECK(still[0].status == 200);

    // Closing one frees its place (once the worker has seen the close).
    first.reset();
    int last_status = 0;
    const bool admitted = eventually(
        [&] {
            RawConnection fresh(daemon.port());
            if (!fresh.send(http_request("GET", "/healthz"))) return false;
            auto responses = fresh.read_responses(1, response_timeout);
            last_status = responses.empty() ? 0 : responses[0].status;
            return last_status == 200;
        },
        10s, 50ms);
    INFO("last status " << last_status);
    CHECK(admitted);
    CHECK(daemon.stop_and_check_clean());
}

namespace {

// VmRSS of a process, in bytes; 0 when it cannot be read.
std::uint64_t resident_bytes(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    }
    return 0;
}

}  // namespace

TEST_CASE("1 MiB bodies sent to a route that takes none are refused without the worker buffering them",
          "[integration][limits]") {
    Daemon daemon({"--workers", "1"});
    const auto workers = daemon.wait_for_workers(worker_processes(1));
    REQUIRE(workers.size() == 1);
    const pid_t worker = workers.front();
    HttpClient warm(daemon.port());
    REQUIRE(warm.get("/").status == 200);
    const std::uint64_t before = resident_bytes(worker);
    REQUIRE(before > 0);

    // 60 clients at once, as in the audit that took a worker from 7 to 73 MB.
    const std::string body(1024 * 1024, 'x');
    std::vector<std::unique_ptr<RawConnection>> clients;
    for (int i = 0; i < 60; ++i) {
        clients.push_back(std::make_unique<RawConnection>(daemon.port()));
        (void)clients.back()->send(http_request("GET", "/", "Content-Length: " + std::to_string(body.size()) + "\r\n"));
    }
    for (auto& client : clients) (void)client->send(body);  // the worker discards it, or has closed already
    for (auto& client : clients) {
        auto responses = client->read_responses(1, response_timeout);
        REQUIRE(responses.size() == 1);
        CHECK(responses[0].status == 413);
        CHECK(responses[0].header("Connection").value_or("(absent)") == "close");
    }
    const std::uint64_t after = resident_bytes(worker);
    INFO("worker RSS before " << before << " after " << after);
    CHECK(after < before + 8 * 1024 * 1024);  // 60 buffered bodies would be 60 MiB
    CHECK(daemon.worker_pids() == workers);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a body for a path no route serves gets the 404 or 405 it would get anyway, then the connection closes",
          "[integration][limits]") {
    Daemon daemon({"--workers", "1"});
    for (const auto& [method, path, status] : {std::tuple{"POST", "/", 405}, std::tuple{"PUT", "/nowhere", 404}}) {
        INFO(method << " " << path);
        RawConnection connection(daemon.port());
        REQUIRE(connection.send(http_request(method, path, "Content-Length: 100000\r\n")));
        auto responses = connection.read_responses(1, response_timeout);
        REQUIRE(responses.size() == 1);
        CHECK(responses[0].status == status);
        CHECK(responses[0].header("Connection").value_or("(absent)") == "close");
        CHECK(connection.wait_closed(response_timeout));
    }
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a client that stops reading its responses is disconnected after --send-timeout and the worker serves on",
          "[integration][limits]") {
    Daemon daemon({"--workers", "1", "--header-timeout", "1s", "--idle-timeout", "1s", "--send-timeout", "1s"});
    const auto workers = daemon.wait_for_workers(worker_processes(1));
    REQUIRE(workers.size() == 1);
    auto open_connections = [&] {
        const auto status = nlohmann::json::parse(HttpClient(daemon.port()).get("/status").body);
        std::int64_t open = 0;
        for (const auto& worker : status["workers"]) {
            if (worker["role"] == "http" && worker["pid"] != 0) open += worker["connections_open"].get<std::int64_t>();
        }
        return open - 1;  // this /status request's own connection
    };
    NonReadingClient stuck(daemon.port());
    CHECK(open_connections() >= 1);
    // 1 s for the head timeout that ends the stuck pipeline, 1 s to send: bounded well above that.
    CHECK(eventually([&] { return open_connections() == 0; }, 30s));
    CHECK(HttpClient(daemon.port()).get("/").status == 200);
    CHECK(daemon.worker_pids() == workers);
    CHECK(daemon.stop_and_check_clean());
}
