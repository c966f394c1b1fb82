#include "supervisor/listen_socket.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace clusterd::supervisor {
namespace {

std::string failure(const char* call, const std::string& where, int error) {
    return std::string(call) + "() failed on " + where + ": " + std::strerror(error);
}

std::string format_address(const sockaddr_storage& addr) {
    char host[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET6) {
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
        inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
        return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6.sin6_port));
    }
    const auto& in4 = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &in4.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in4.sin_port));
}

}  // namespace

std::variant<ListenSocket, std::string> bind_listen_socket(const ListenAddress& address) {
    const std::string where = address.host + ":" + std::to_string(address.port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(address.port);
    if (int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        return "getaddrinfo() failed for " + where + ": " + gai_strerror(rc);
    }
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, freeaddrinfo);

    UniqueFd fd(socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return failure("socket", where, errno);
    int on = 1;
    if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
        return failure("setsockopt(SO_REUSEADDR)", where, errno);
    }
    if (bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) return failure("bind", where, errno);
    // The kernel clamps the backlog to net.core.somaxconn.
    if (listen(fd.get(), 4096) != 0) return failure("listen", where, errno);

    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
        return failure("getsockname", where, errno);
    }
    return ListenSocket{std::move(fd), format_address(bound)};
}

}  // namespace clusterd::supervisor
