// Hostile clients: a thousand slowloris connections (a request head trickled
// a byte at a time) and a thousand idle ones must not stop /healthz from
// answering; the slow ones are closed at --header-timeout (408 or a close)
// however they trickle, the idle ones at --idle-timeout; and connections over
// --max-connections get a 503 or a close, never a hang.
//
// Every assertion is about what happened, never how fast: the deadlines
// below are generous bounds that only catch "never".
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr unsigned slow_count = 1000;
constexpr unsigned idle_count = 1000;

// The test holds 2,000 sockets and the daemon's workers about as many; both
// inherit this soft limit (the daemon is started after it is raised).
void raise_fd_limit(rlim_t wanted) {
    rlimit limit{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &limit) == 0);
    if (limit.rlim_cur >= wanted) return;
    limit.rlim_cur = std::min(wanted, limit.rlim_max);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &limit) == 0);
    if (limit.rlim_cur < wanted) WARN("RLIMIT_NOFILE hard limit " << limit.rlim_max << " is below " << wanted);
}

// A plain non-blocking client socket, connected (loopback connects at once
// or within the poll).
int connect_to(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 && errno != EINPROGRESS) {
        ::close(fd);
        return -1;
    }
    pollfd pfd{fd, POLLOUT, 0};
    if (::poll(&pfd, 1, 10'000) != 1) {
        ::close(fd);
        return -1;
    }
    return fd;
}

struct Peer {
    int fd = -1;
    std::string received;
    bool closed = false;  // EOF or reset seen
    std::size_t sent = 0;
};

// Reads whatever is there on every open peer; marks EOF and resets.
void collect(std::vector<Peer>& peers, int timeout_ms) {
    std::vector<pollfd> fds;
    std::vector<Peer*> owners;
    for (auto& peer : peers) {
        if (peer.closed) continue;
        fds.push_back({peer.fd, POLLIN | POLLRDHUP, 0});
        owners.push_back(&peer);
    }
    if (fds.empty()) return;
    if (::poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
    for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        char buffer[4096];
        for (;;) {
            const ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
            if (n > 0) {
                owners[i]->received.append(buffer, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
            owners[i]->closed = true;
            break;
        }
    }
}

unsigned count_closed(const std::vector<Peer>& peers) {
    unsigned closed = 0;
    for (const auto& peer : peers) closed += peer.closed ? 1 : 0;
    return closed;
}

void close_all(std::vector<Peer>& peers) {
    for (auto& peer : peers) {
        if (peer.fd >= 0) ::close(peer.fd);
        peer.fd = -1;
    }
}

}  // namespace

TEST_CASE("a thousand slowloris and a thousand idle connections are closed at their timeouts while /healthz answers",
          "[crash][slow_clients]") {
    raise_fd_limit(8192);
    Daemon daemon({"--workers", "2", "--header-timeout", "2s", "--idle-timeout", "3s", "--max-connections", "4096"});
    REQUIRE(daemon.wait_for_workers(2).size() == 2);

    std::vector<Peer> slow(slow_count), idle(idle_count);
    for (auto& peer : idle) {
        peer.fd = connect_to(daemon.port());
        REQUIRE(peer.fd >= 0);
    }
    for (auto& peer : slow) {
        peer.fd = connect_to(daemon.port());
        REQUIRE(peer.fd >= 0);
    }

    // A head that never ends: one more header line per round, a byte at a time.
    const std::string head = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    const std::string filler = "X-Slow: a\r\n";
    unsigned healthz_answered = 0, healthz_asked = 0;
    const auto trickle_until = Clock::now() + 20s;  // 10x the header timeout: "never" if still open
    while (count_closed(slow) < slow.size() && Clock::now() < trickle_until) {
        for (auto& peer : slow) {
            if (peer.closed) continue;
            const char byte = peer.sent < head.size() ? head[peer.sent] : filler[(peer.sent - head.size()) % filler.size()];
            if (::send(peer.fd, &byte, 1, MSG_NOSIGNAL) == 1) {
                ++peer.sent;
            } else if (errno != EAGAIN) {
                peer.closed = true;  // reset by the server
            }
        }
        collect(slow, 50);
        collect(idle, 0);
        HttpClient probe(daemon.port(), 20s);
        ++healthz_asked;
        if (probe.get("/healthz").status == 200) ++healthz_answered;
    }
    INFO("healthz answered " << healthz_answered << " of " << healthz_asked);
    CHECK(healthz_answered == healthz_asked);
    CHECK(healthz_asked > 0);
    CHECK(count_closed(slow) == slow.size());  // every one closed while it was still sending
    unsigned with_408 = 0;
    for (const auto& peer : slow) with_408 += peer.received.find("HTTP/1.1 408") == 0 ? 1 : 0;
    // A 408 precedes the close, unless the kernel reset the connection first
    // because our unread bytes were still arriving: either is a close.
    INFO(with_408 << " of " << slow.size() << " slow connections got a 408 before the close");
    CHECK(with_408 > 0);

    // The idle ones: closed without a byte (there was no request to answer).
    const auto idle_until = Clock::now() + 30s;
    while (count_closed(idle) < idle.size() && Clock::now() < idle_until) collect(idle, 100);
    CHECK(count_closed(idle) == idle.size());
    unsigned idle_with_bytes = 0;
    for (const auto& peer : idle) idle_with_bytes += peer.received.empty() ? 0 : 1;
    CHECK(idle_with_bytes == 0);

    close_all(slow);
    close_all(idle);
    HttpClient after(daemon.port());
    CHECK(after.get("/healthz").status == 200);
    CHECK(daemon.running());
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("connections over --max-connections get a 503 or a close, never a hang", "[crash][slow_clients]") {
    raise_fd_limit(4096);
    constexpr unsigned limit = 10;
    constexpr unsigned extra = 40;
    Daemon daemon({"--workers", "1", "--max-connections", std::to_string(limit), "--idle-timeout", "30s",
                   "--header-timeout", "30s"});
    REQUIRE(daemon.wait_for_workers(1).size() == 1);

    // Fill the worker: each held open by a keep-alive request.
    std::vector<std::unique_ptr<RawConnection>> held;
    for (unsigned i = 0; i < limit; ++i) {
        held.push_back(std::make_unique<RawConnection>(daemon.port()));
        REQUIRE(held.back()->send(http_request("GET", "/")));
        const auto responses = held.back()->read_responses(1, 20s);
        REQUIRE(responses.size() == 1);
        REQUIRE(responses[0].status == 200);
    }

    // Every one over the limit is answered 503 or closed; none waits forever.
    unsigned refused = 0, closed = 0, served = 0, hung = 0;
    std::vector<std::unique_ptr<RawConnection>> over;
    for (unsigned i = 0; i < extra; ++i) {
        over.push_back(std::make_unique<RawConnection>(daemon.port()));
        (void)over.back()->send(http_request("GET", "/"));
    }
    for (auto& connection : over) {
        const auto responses = connection->read_responses(1, 20s);
        if (!responses.empty() && responses[0].status == 503) {
            ++refused;
            CHECK(responses[0].header("Retry-After").has_value());
        } else if (!responses.empty()) {
            ++served;
        } else if (connection->closed()) {
            ++closed;
        } else {
            ++hung;
        }
    }
    INFO(refused << " refused, " << closed << " closed, " << served << " served, " << hung << " hung");
    CHECK(hung == 0);
    CHECK(served == 0);
    CHECK(refused + closed == extra);

    // The held ones are still served, and once they leave there is room again.
    CHECK(held[0]->send(http_request("GET", "/healthz")));
    const auto still = held[0]->read_responses(1, 20s);
    REQUIRE(still.size() == 1);
    CHECK(still[0].status == 200);
    held.clear();
    over.clear();
    CHECK(eventually(
        [&] {
            HttpClient client(daemon.port(), 5s);
            return client.get("/healthz").status == 200;
        },
        20s, 100ms));
    CHECK(daemon.stop_and_check_clean());
}
