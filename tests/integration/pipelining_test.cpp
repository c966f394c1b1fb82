// Pipelining and connection edge cases over raw sockets: order under delay,
// an error in the middle of a pipeline, a burst larger than the socket
// buffers (the worker's back-pressure path), half-closed clients, bodies on
// requests whose route takes none, and 100-continue.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

constexpr auto response_timeout = 10s;

// The test application (tests/support/apps/api_app.cpp): POST /echo takes a body.
DaemonOptions api_app(std::vector<std::string> args) {
    DaemonOptions options;
    options.args = std::move(args);
    options.binary = CLUSTERD_API_APP;
    return options;
}

// Writes `request` over and over without blocking until `limit` bytes are
// out or the peer has taken nothing for `stalled`; returns the bytes taken.
std::size_t push_until_stalled(int fd, const std::string& request, std::size_t limit, std::chrono::milliseconds stalled) {
    std::string chunk;
    while (chunk.size() < 64 * 1024) chunk += request;
    std::size_t sent = 0;
    while (sent < limit) {
        const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
        pollfd writable{fd, POLLOUT, 0};
        if (::poll(&writable, 1, static_cast<int>(stalled.count())) <= 0) break;
    }
    return sent;
}

}  // namespace

TEST_CASE("a delayed response still leaves before the responses pipelined after it", "[integration][pipelining]") {
    Daemon daemon({"--workers", "1", "--enable-fault-injection"});
    RawConnection connection(daemon.port());
    REQUIRE(connection.send(http_request("GET", "/debug/crash?mode=slow&ms=300") + http_request("GET", "/healthz") +
                            http_request("GET", "/")));
    auto responses = connection.read_responses(3, response_timeout);
    REQUIRE(responses.size() == 3);
    CHECK(responses[0].status == 200);
    CHECK_THAT(responses[0].body, Catch::StartsWith("slow response after 300 ms"));
    CHECK(responses[1].body == "ok\n");
    CHECK(responses[2].body == "hello from clusterd\n");
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("an error in the middle of a pipeline answers what came before, then closes", "[integration][pipelining]") {
    Daemon daemon({"--workers", "1"});
    RawConnection connection(daemon.port());
    REQUIRE(connection.send(http_request("GET", "/") + http_request("GET", "/healthz") + "NONSENSE\r\n\r\n" +
                            http_request("GET", "/readyz")));
    auto responses = connection.read_responses(4, response_timeout);
    REQUIRE(responses.size() == 3);  // the request after the bad one is never answered
    CHECK(responses[0].body == "hello from clusterd\n");
    CHECK(responses[1].body == "ok\n");
    CHECK(responses[2].status == 400);
    CHECK(responses[2].header("Connection").value_or("(absent)") == "close");
    CHECK(connection.wait_closed(response_timeout));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a pipelined burst larger than the socket buffers is answered completely and in order",
          "[integration][pipelining]") {
    Daemon daemon({"--workers", "1"});
    // A slow reader with a small receive buffer and tens of thousands of
    // pipelined requests: megabytes of responses back up in the worker, which
    // must stop reading until its write queue drains, then carry on.
    RawConnection connection(daemon.port(), 10s, 8 * 1024);
    constexpr std::size_t count = 50000;
    std::string burst;
    for (std::size_t i = 0; i < count; ++i) {
        // Every tenth a compute job: each one is a trip through the dispatcher.
        burst += http_request("GET", i % 10 != 9 ? "/healthz" : "/compute/fib?n=" + std::to_string(i % 20));
    }
    bool sent = false;
    std::thread writer([&] { sent = connection.send(burst); });
    std::this_thread::sleep_for(300ms);  // let the worker's write queue fill up before we read
    auto responses = connection.read_responses(count, 60s);
    writer.join();
    CHECK(sent);
    REQUIRE(responses.size() == count);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const bool fib = i % 10 == 9;
        const bool ok = responses[i].status == 200 &&
                        (fib ? responses[i].body.find("\"n\":" + std::to_string(i % 20) + ",") != std::string::npos
                             : responses[i].body == "ok\n");
        if (!ok) ++wrong;
    }
    CHECK(wrong == 0);
    CHECK_FALSE(connection.closed());
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a client that half-closes after its request still gets the response", "[integration][pipelining]") {
    Daemon daemon({"--workers", "1", "--enable-fault-injection"});
    const std::string path = GENERATE(as<std::string>{}, "/", "/debug/crash?mode=slow&ms=200");
    INFO(path);
    RawConnection connection(daemon.port());
    REQUIRE(connection.send(http_request("GET", path)));
    connection.shutdown_write();
    auto responses = connection.read_responses(1, response_timeout);
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == 200);
    CHECK(connection.wait_closed(response_timeout));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a body on a GET is refused from its head and never parsed as a request",
          "[integration][pipelining]") {
    Daemon daemon({"--workers", "1"});
    RawConnection connection(daemon.port());
    const std::string fake_request = http_request("GET", "/readyz");  // as a body: must not be parsed as a request
    REQUIRE(connection.send(http_request("GET", "/healthz",
                                         "Content-Length: " + std::to_string(fake_request.size()) + "\r\n") +
                            fake_request + http_request("GET", "/", "Connection: close\r\n")));
    auto responses = connection.read_responses(3, response_timeout);
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == 413);
    CHECK(responses[0].header("Connection").value_or("(absent)") == "close");
    CHECK(connection.wait_closed(response_timeout));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a chunked body within the limit is read, and the connection stays usable", "[integration][pipelining]") {
    Daemon daemon(api_app({"--workers", "1"}));
    RawConnection connection(daemon.port());
    REQUIRE(connection.send(http_request("POST", "/echo", "Transfer-Encoding: chunked\r\n") +
                            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" + http_request("GET", "/healthz")));
    auto responses = connection.read_responses(2, response_timeout);
    REQUIRE(responses.size() == 2);
    CHECK(responses[0].status == 200);
    CHECK(responses[0].body == "dlrow olleh");
    CHECK(responses[1].status == 200);
    CHECK(responses[1].body == "ok\n");
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("Expect: 100-continue gets an interim 100 before the body is sent", "[integration][pipelining]") {
    Daemon daemon(api_app({"--workers", "1"}));
    RawConnection connection(daemon.port());
    REQUIRE(connection.send(http_request("POST", "/echo", "Content-Length: 5\r\nExpect: 100-continue\r\n")));
    auto interim = connection.read_responses(1, response_timeout);
    REQUIRE(interim.size() == 1);
    CHECK(interim[0].status == 100);
    REQUIRE(connection.send("hello"));
    auto final_response = connection.read_responses(1, response_timeout);
    REQUIRE(final_response.size() == 1);
    CHECK(final_response[0].status == 200);
    CHECK(final_response[0].body == "olleh");
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("Expect: 100-continue on a route that takes no body is refused without the interim 100",
          "[integration][pipelining]") {
    Daemon daemon({"--workers", "1"});
    RawConnection connection(daemon.port());
    REQUIRE(connection.send(http_request("GET", "/", "Content-Length: 1048576\r\nExpect: 100-continue\r\n")));
    auto responses = connection.read_responses(1, response_timeout);
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == 413);
    CHECK(connection.wait_closed(response_timeout));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("targets in absolute form, with a query or percent-encoded, reach their route", "[integration][pipelining]") {
    Daemon daemon({"--workers", "1"});
    RawConnection connection(daemon.port());
    const std::string target = GENERATE(as<std::string>{}, "http://127.0.0.1/healthz", "/healthz?probe=1",
                                        "/heal%74hz");
    INFO(target);
    REQUIRE(connection.send(http_request("GET", target)));
    auto responses = connection.read_responses(1, response_timeout);
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == 200);
    CHECK(responses[0].body == "ok\n");
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("HEAD on a compute route has a Content-Length and no body", "[integration][pipelining]") {
    Daemon daemon({"--workers", "1"});
    RawConnection connection(daemon.port());
    REQUIRE(connection.send(http_request("HEAD", "/compute/fib?n=20") + http_request("GET", "/compute/fib?n=20")));
    auto responses = connection.read_responses(2, response_timeout, {true, false});
    REQUIRE(responses.size() == 2);
    CHECK(responses[0].status == 200);
    CHECK(responses[0].body.empty());
    REQUIRE(responses[0].header("Content-Length").has_value());
    CHECK(std::stoul(*responses[0].header("Content-Length")) > 0);
    CHECK(responses[1].status == 200);
    CHECK_THAT(responses[1].body, Catch::Contains("\"result\":6765,"));
    CHECK(connection.received().empty());
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("without --workers there is one worker per available CPU", "[integration][config]") {
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    REQUIRE(sched_getaffinity(0, sizeof cpus, &cpus) == 0);
    const auto expected = static_cast<unsigned>(CPU_COUNT(&cpus));
    Daemon daemon(std::vector<std::string>{});
    CHECK(daemon.wait_for_workers(worker_processes(expected)).size() == worker_processes(expected));
    CHECK(daemon.count_log("all " + std::to_string(expected) + " workers ready") == 1);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("requests pipelined behind a pending response are not read without bound", "[integration][pipelining]") {
    Daemon daemon({"--workers", "1", "--enable-fault-injection"});
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(daemon.port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);

    // The first response is held back for 5 s; behind it, a client that
    // never stops pipelining. The worker reads a bounded amount ahead and
    // then lets the socket buffers fill, so the client stalls well short of
    // what it would send: 64 MiB buffered in the worker would be the bug.
    const std::string first = http_request("GET", "/debug/crash?mode=slow&ms=5000");
    REQUIRE(::send(fd, first.data(), first.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(first.size()));
    constexpr std::size_t limit = 64u << 20;
    const std::size_t taken = push_until_stalled(fd, http_request("GET", "/healthz"), limit, 1000ms);
    INFO("bytes the server side took while its first response was pending: " << taken);
    CHECK(taken < limit / 4);

    // Nothing is lost by pausing: the held response comes first, then the
    // pipelined ones, in order, and the worker serves others meanwhile.
    HttpClient other(daemon.port());
    CHECK(other.get("/healthz").status == 200);
    ::shutdown(fd, SHUT_WR);
    std::string received;
    std::size_t responses = 0;
    char buffer[64 * 1024];
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (responses < 1001 && std::chrono::steady_clock::now() < give_up) {
        pollfd readable{fd, POLLIN, 0};
        if (::poll(&readable, 1, 1000) <= 0) continue;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        received.append(buffer, static_cast<std::size_t>(n));
        responses = 0;
        for (auto at = received.find("HTTP/1.1 "); at != std::string::npos; at = received.find("HTTP/1.1 ", at + 1)) {
            ++responses;
        }
    }
    ::close(fd);
    REQUIRE(responses >= 1001);
    CHECK(received.rfind("HTTP/1.1 200 OK", 0) == 0);
    CHECK(received.find("slow response after 5000 ms") < received.find("\r\n\r\nok\n"));
    CHECK(daemon.stop_and_check_clean());
}
