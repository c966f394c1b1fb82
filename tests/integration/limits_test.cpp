// Every request limit answers with its status, closes that connection, and
// leaves the worker serving: the same worker processes answer the next request.
#include <catch2/catch.hpp>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

constexpr auto response_timeout = 10s;

struct BadRequest {
    const char* what;
    std::string bytes;
    int status;
};

std::string header_of_size(std::size_t size) { return "X-Padding: " + std::string(size, 'a') + "\r\n"; }

}  // namespace

TEST_CASE("each malformed or oversized request gets its status and the worker keeps serving", "[integration][limits]") {
    const BadRequest bad = GENERATE(values<BadRequest>({
        {"a head over --max-header-size", http_request("GET", "/", header_of_size(2048)), 431},
        {"a request line over --max-header-size", http_request("GET", "/" + std::string(2048, 'p')), 431},
        {"a Content-Length over --max-body-size (refused right after the head, no body sent)",
         http_request("POST", "/", "Content-Length: 2048\r\n"), 413},
        {"a chunked body over --max-body-size",
         http_request("POST", "/", "Transfer-Encoding: chunked\r\n") + "800\r\n" + std::string(2048, 'b') +
             "\r\n0\r\n\r\n",
         413},
        {"Content-Length together with Transfer-Encoding",
         http_request("POST", "/", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n", 400},
        {"two different Content-Lengths", http_request("POST", "/", "Content-Length: 1\r\nContent-Length: 2\r\n") + "xy",
         400},
        {"garbage instead of a request line", std::string("\x01\x02 this is not http \xff\r\n\r\n"), 400},
        {"HTTP/1.1 without Host", std::string("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), 400},
        {"two Host lines (RFC 9112 3.2)", std::string("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400},
        {"an invalid Host value", std::string("GET / HTTP/1.1\r\nHost: evil.example/x@y\r\n\r\n"), 400},
        {"a header line without a colon", http_request("GET", "/", "NoColonHere\r\n"), 400},
        {"an HTTP/2.0 request line", std::string("GET / HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n"), 505},
    }));
    INFO(bad.what);

    Daemon daemon({"--workers", "1", "--max-header-size", "1KiB", "--max-body-size", "1KiB"});
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
    Daemon daemon({"--workers", "1", "--max-header-size", "1KiB", "--max-body-size", "1KiB"});
    RawConnection connection(daemon.port());

    // A head just under the limit and a body just under the limit (POST / is then 405, not 431/413).
    REQUIRE(connection.send(http_request("GET", "/healthz", header_of_size(700))));
    auto first = connection.read_responses(1, response_timeout);
    REQUIRE(first.size() == 1);
    CHECK(first[0].status == 200);

    REQUIRE(connection.send(http_request("POST", "/", "Content-Length: 1000\r\n") + std::string(1000, 'b')));
    auto second = connection.read_responses(1, response_timeout);
    REQUIRE(second.size() == 1);
    CHECK(second[0].status == 405);
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
