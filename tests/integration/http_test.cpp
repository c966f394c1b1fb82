// The HTTP surface of a real cluster, through libcurl and raw sockets.
#include <catch2/catch.hpp>
#include <regex>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

constexpr auto response_timeout = 10s;

}  // namespace

TEST_CASE("two GETs on one client share one keep-alive connection", "[integration][http]") {
    Daemon daemon({"--workers", "2"});
    HttpClient client(daemon.port());

    HttpResponse first = client.get("/");
    INFO(first.error);
    REQUIRE(first.status == 200);
    CHECK(first.body == "hello from clusterd\n");
    CHECK(first.new_connections == 1);
    CHECK(first.header("Connection").value_or("(absent)") != "close");

    HttpResponse second = client.get("/healthz");
    INFO(second.error);
    REQUIRE(second.status == 200);
    CHECK(second.body == "ok\n");
    CHECK(second.new_connections == 0);  // reused the first one

    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("HEAD answers with the GET's Content-Length and no body", "[integration][http]") {
    Daemon daemon({"--workers", "1"});

    SECTION("through libcurl") {
        HttpClient client(daemon.port());
        HttpResponse response = client.head("/");
        INFO(response.error);
        REQUIRE(response.status == 200);
        CHECK(response.header("Content-Length").value_or("(absent)") == "20");
        CHECK(response.body.empty());
    }
    SECTION("on the wire, the next pipelined response starts right after the HEAD's headers") {
        RawConnection connection(daemon.port());
        REQUIRE(connection.send(http_request("HEAD", "/") + http_request("GET", "/healthz")));
        auto responses = connection.read_responses(2, response_timeout, {true, false});
        REQUIRE(responses.size() == 2);
        CHECK(responses[0].status == 200);
        CHECK(responses[0].header("Content-Length").value_or("(absent)") == "20");
        CHECK(responses[0].body.empty());
        CHECK(responses[1].status == 200);
        CHECK(responses[1].body == "ok\n");
        CHECK(connection.received().empty());  // nothing stray
    }
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("an unknown path is 404 and an unsupported method is 405 with Allow", "[integration][http]") {
    Daemon daemon({"--workers", "1"});
    HttpClient client(daemon.port());

    HttpResponse missing = client.get("/no/such/path");
    INFO(missing.error);
    CHECK(missing.status == 404);

    auto method = GENERATE(as<std::string>{}, "POST", "PUT", "DELETE", "PATCH");
    HttpResponse refused = client.request(method, "/", method == "DELETE" ? "" : "x=1", {});
    INFO(method << ": " << refused.error);
    CHECK(refused.status == 405);
    REQUIRE(refused.header("Allow").has_value());
    CHECK(refused.header("Allow").value_or("(absent)") == "GET, HEAD");

    // Still serving on the same handle afterwards.
    CHECK(client.get("/healthz").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("fib computes the right numbers and refuses n outside 0..45", "[integration][http]") {
    Daemon daemon({"--workers", "2"});
    HttpClient client(daemon.port());

    SECTION("correct results") {
        auto [n, result] = GENERATE(table<int, std::string>({{0, "0"}, {1, "1"}, {10, "55"}, {30, "832040"}}));
        HttpResponse response = client.get("/compute/fib?n=" + std::to_string(n));
        INFO(response.error << response.body);
        REQUIRE(response.status == 200);
        CHECK(response.header("Content-Type").value_or("(absent)") == "application/json");
        CHECK_THAT(response.body, Catch::Contains("\"kind\":\"fib\""));
        CHECK_THAT(response.body, Catch::Contains("\"n\":" + std::to_string(n) + ","));
        CHECK_THAT(response.body, Catch::Contains("\"result\":" + result + ","));
        CHECK_THAT(response.body, Catch::Contains("\"compute_ms\":"));
    }
    SECTION("bad n") {
        auto query = GENERATE(as<std::string>{}, "?n=46", "?n=-1", "?n=abc", "", "?n=", "?m=3",
                              "?n=99999999999999999999");
        HttpResponse response = client.get("/compute/fib" + query);
        INFO(query << ": " << response.error << response.body);
        CHECK(response.status == 400);
    }
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("liveness and readiness answer 200 on a running cluster", "[integration][http]") {
    Daemon daemon({"--workers", "2"});
    HttpClient client(daemon.port());

    HttpResponse ready = client.get("/readyz");
    INFO(ready.error);
    CHECK(ready.status == 200);
    CHECK(ready.body == "ready\n");

    HttpResponse live = client.get("/healthz");
    CHECK(live.status == 200);
    CHECK(live.body == "ok\n");
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("the fault injection route does not exist unless enabled", "[integration][http]") {
    Daemon daemon({"--workers", "2"});
    const auto workers = daemon.wait_for_workers(worker_processes(2));
    REQUIRE(workers.size() == worker_processes(2));
    HttpClient client(daemon.port());

    auto mode = GENERATE(as<std::string>{}, "segv", "abort", "exit", "hang", "slow");
    HttpResponse response = client.get("/debug/crash?mode=" + mode);
    INFO(mode << ": " << response.error);
    CHECK(response.status == 404);
    CHECK(client.get("/").status == 200);
    CHECK(daemon.worker_pids() == workers);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("pipelined requests are answered in order", "[integration][http]") {
    Daemon daemon({"--workers", "2"});
    RawConnection connection(daemon.port());
    REQUIRE(connection.send(http_request("GET", "/readyz") + http_request("GET", "/") +
                            http_request("GET", "/healthz") + http_request("GET", "/compute/fib?n=10")));
    auto responses = connection.read_responses(4, response_timeout);
    REQUIRE(responses.size() == 4);
    CHECK(responses[0].body == "ready\n");
    CHECK(responses[1].body == "hello from clusterd\n");
    CHECK(responses[2].body == "ok\n");
    CHECK_THAT(responses[3].body, Catch::Contains("\"result\":55,"));
    for (const auto& response : responses) CHECK(response.status == 200);
    // The connection stays open for more.
    REQUIRE(connection.send(http_request("GET", "/healthz")));
    auto more = connection.read_responses(1, response_timeout);
    REQUIRE(more.size() == 1);
    CHECK(more[0].body == "ok\n");
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a pipelined request split across writes is still answered", "[integration][http]") {
    Daemon daemon({"--workers", "1"});
    RawConnection connection(daemon.port());
    const std::string both = http_request("GET", "/") + http_request("GET", "/healthz");
    // The second request's head arrives in pieces, after the first one's.
    const std::size_t cut = http_request("GET", "/").size() + 7;
    REQUIRE(connection.send(both.substr(0, cut)));
    auto first = connection.read_responses(1, response_timeout);
    REQUIRE(first.size() == 1);
    CHECK(first[0].body == "hello from clusterd\n");
    REQUIRE(connection.send(both.substr(cut)));
    auto second = connection.read_responses(1, response_timeout);
    REQUIRE(second.size() == 1);
    CHECK(second[0].body == "ok\n");
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("an HTTP/1.0 request without keep-alive is answered and the connection closed", "[integration][http]") {
    Daemon daemon({"--workers", "1"});
    RawConnection connection(daemon.port());
    REQUIRE(connection.send("GET / HTTP/1.0\r\n\r\n"));
    auto responses = connection.read_responses(1, response_timeout);
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == 200);
    CHECK(responses[0].body == "hello from clusterd\n");
    CHECK(connection.wait_closed(response_timeout));
    CHECK(connection.received().empty());
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("an HTTP/1.0 request asking for keep-alive keeps the connection open", "[integration][http]") {
    Daemon daemon({"--workers", "1"});
    RawConnection connection(daemon.port());
    const std::string request = "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    REQUIRE(connection.send(request));
    auto first = connection.read_responses(1, response_timeout);
    REQUIRE(first.size() == 1);
    CHECK(first[0].status == 200);
    REQUIRE(first[0].header("Connection").has_value());
    CHECK_THAT(*first[0].header("Connection"), Catch::Contains("keep-alive", Catch::CaseSensitive::No));
    CHECK_FALSE(connection.closed());

    // Same connection, second request.
    REQUIRE(connection.send(request));
    auto second = connection.read_responses(1, response_timeout);
    REQUIRE(second.size() == 1);
    CHECK(second[0].status == 200);
    CHECK(second[0].body == "ok\n");
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("responses carry a Date header in IMF-fixdate form", "[integration][http]") {
    Daemon daemon({"--workers", "1"});
    HttpClient client(daemon.port());
    auto path = GENERATE(as<std::string>{}, "/", "/healthz", "/no/such/path");
    HttpResponse response = client.get(path);
    INFO(response.error);
    REQUIRE(response.status != 0);
    REQUIRE(response.header("Date").has_value());
    static const std::regex imf_fixdate(
        R"(^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$)");
    INFO("Date: " << *response.header("Date"));
    CHECK(std::regex_match(*response.header("Date"), imf_fixdate));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("thirty connections in a row that ask to close are all served by the same workers", "[integration][http]") {
    Daemon daemon({"--workers", "3"});
    const auto workers = daemon.wait_for_workers(worker_processes(3));
    REQUIRE(workers.size() == worker_processes(3));
    for (int i = 0; i < 30; ++i) {
        RawConnection connection(daemon.port());
        REQUIRE(connection.send(http_request("GET", "/", "Connection: close\r\n")));
        auto responses = connection.read_responses(1, response_timeout);
        REQUIRE(responses.size() == 1);
        CHECK(responses[0].status == 200);
        CHECK(responses[0].header("Connection").value_or("(absent)") == "close");
    }
    CHECK(daemon.worker_pids() == workers);
    CHECK(daemon.stop_and_check_clean());
}
