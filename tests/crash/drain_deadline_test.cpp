// Every drain has a deadline: a client that stops reading cannot hold a
// retired worker, however many reloads it sees. The stuck client sends
// pipelined GET /metrics (several KiB each) with a tiny receive buffer and
// never reads, so the worker's writes, then its reads, stall on it.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"

using namespace clusterd::test;

namespace {

constexpr auto settle_timeout = 20s;

// A client that sends requests until the server stops taking them, and never reads.
class NonReadingClient {
public:
    explicit NonReadingClient(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        const int small = 4096;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        const std::string request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        // Bounded: at most 20000 requests, and stop once the server has
        // taken nothing for half a second.
        for (int sent = 0; sent < 20000;) {
            pollfd pfd{fd_, POLLOUT, 0};
            if (::poll(&pfd, 1, 500) <= 0) break;
            if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL | MSG_DONTWAIT) <= 0) break;
            ++sent;
        }
    }
    ~NonReadingClient() { ::close(fd_); }
    NonReadingClient(const NonReadingClient&) = delete;
    NonReadingClient& operator=(const NonReadingClient&) = delete;

private:
    int fd_ = -1;
};

}  // namespace

TEST_CASE("a worker held by a client that never reads is killed at its drain deadline after a reload",
          "[crash][drain_deadline]") {
    Daemon daemon({"--workers", "1", "--shutdown-timeout", "1s"});
    const auto before = daemon.wait_for_workers(worker_processes(1));
    REQUIRE(before.size() == worker_processes(1));
    NonReadingClient stuck(daemon.port());

    REQUIRE(daemon.send_signal(SIGHUP));
    CHECK(daemon.wait_for_log("reload complete", settle_timeout));
    CHECK(daemon.wait_for_log(std::regex(R"(\(pid )" + std::to_string(before[0]) +
                                         R"(\) is still draining 1s after it was told to.*killing it)"),
                              settle_timeout));
    CHECK(eventually([&] { return !process_alive(before[0]); }, settle_timeout));
    CHECK(daemon.wait_for_workers(worker_processes(1)).size() == worker_processes(1));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("ten reloads in a row under clients that never read all complete, leaving no draining worker",
          "[crash][drain_deadline]") {
    Daemon daemon({"--workers", "2", "--shutdown-timeout", "500ms"});
    std::vector<std::unique_ptr<NonReadingClient>> stuck;
    for (unsigned i = 1; i <= 10; ++i) {
        INFO("reload " << i);
        for (int c = 0; c < 2; ++c) stuck.push_back(std::make_unique<NonReadingClient>(daemon.port()));
        REQUIRE(daemon.send_signal(SIGHUP));
        REQUIRE(daemon.wait_for_log("reload complete", settle_timeout, i));
    }
    CHECK(daemon.count_log("reload failed") == 0);
    CHECK(daemon.count_log("no spare slot") == 0);
    // The last reload's predecessors go at their deadline too.
    CHECK(eventually([&] { return daemon.worker_pids().size() == worker_processes(2); }, settle_timeout));
    CHECK(daemon.stop_and_check_clean());
}
