// A client that sends pipelined requests until the server stops taking them,
// and never reads a byte of the answers: its tiny receive buffer fills, then
// the server's writes back up, then its reads stop. What a peer that hung,
// or a hostile one, looks like to a worker.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

namespace clusterd::test {

class NonReadingClient {
public:
    explicit NonReadingClient(std::uint16_t port, const std::string& target = "/metrics") {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        const int small = 4096;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
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

}  // namespace clusterd::test
