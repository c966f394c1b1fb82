#include "supervisor/socket_activation.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "common/units.hpp"

namespace clusterd::supervisor {
namespace {

constexpr int first_fd = 3;  // SD_LISTEN_FDS_START

// Removes the variables when it goes out of scope, on every path out of
// take_inherited_sockets (libsystemd's sd_listen_fds(1) does the same).
struct UnsetOnExit {
    ~UnsetOnExit() {
        ::unsetenv("LISTEN_PID");
        ::unsetenv("LISTEN_FDS");
        ::unsetenv("LISTEN_FDNAMES");
    }
};

std::vector<std::string> split_names(std::string_view text) {
    std::vector<std::string> names;
    for (;;) {
        const auto colon = text.find(':');
        names.emplace_back(text.substr(0, colon));
        if (colon == std::string_view::npos) return names;
        text.remove_prefix(colon + 1);
    }
}

std::string printable_address(const sockaddr_storage& addr, socklen_t length) {
    char host[INET6_ADDRSTRLEN] = {};
    switch (addr.ss_family) {
        case AF_INET: {
            const auto& in4 = reinterpret_cast<const sockaddr_in&>(addr);
            inet_ntop(AF_INET, &in4.sin_addr, host, sizeof host);
            return std::string(host) + ":" + std::to_string(ntohs(in4.sin_port));
        }
        case AF_INET6: {
            const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
            inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
            return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6.sin6_port));
        }
        case AF_UNIX: {
            const auto& un = reinterpret_cast<const sockaddr_un&>(addr);
            const auto path_length = static_cast<std::size_t>(length) - offsetof(sockaddr_un, sun_path);
            if (static_cast<std::size_t>(length) <= offsetof(sockaddr_un, sun_path) || path_length == 0) {
                return "unix:(unnamed)";
            }
            if (un.sun_path[0] == '\0') return "unix:@" + std::string(un.sun_path + 1, path_length - 1);
            return "unix:" + std::string(un.sun_path, strnlen(un.sun_path, path_length));
        }
        default: return "family " + std::to_string(addr.ss_family);
    }
}

std::string describe(int fd, const std::string& name) {
    return "fd " + std::to_string(fd) + " ('" + name + "') passed by socket activation";
}

std::string failure(const char* call, int fd, const std::string& name, int error) {
    return std::string(call) + "() failed on " + describe(fd, name) + ": " + std::strerror(error);
}

std::optional<int> socket_option(int fd, int option) {
    int value = 0;
    socklen_t length = sizeof value;
    if (getsockopt(fd, SOL_SOCKET, option, &value, &length) != 0) return std::nullopt;
    return value;
}

// Checks one descriptor and takes it; an error sentence when it is not a
// listening stream socket we can serve on.
std::variant<InheritedSocket, std::string> take(int fd, const std::string& name) {
    struct stat status {};
    if (fstat(fd, &status) != 0) return failure("fstat", fd, name, errno);
    if (!S_ISSOCK(status.st_mode)) return describe(fd, name) + " is not a socket";

    const auto type = socket_option(fd, SO_TYPE);
    if (!type) return failure("getsockopt(SO_TYPE)", fd, name, errno);
    if (*type != SOCK_STREAM) {
        return describe(fd, name) + " is not a stream socket; clusterd serves HTTP on ListenStream= sockets";
    }
    const auto listening = socket_option(fd, SO_ACCEPTCONN);
    if (!listening) return failure("getsockopt(SO_ACCEPTCONN)", fd, name, errno);
    if (*listening == 0) {
        return describe(fd, name) + " is not listening; the .socket unit must use ListenStream= with Accept=no";
    }

    sockaddr_storage addr{};
    socklen_t length = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) return failure("getsockname", fd, name, errno);
    if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6 && addr.ss_family != AF_UNIX) {
        return describe(fd, name) + " is of address " + printable_address(addr, length) +
               "; clusterd serves AF_INET, AF_INET6 and AF_UNIX sockets";
    }

    // systemd passes them without close-on-exec (they were just exec'd
    // across); ours go to workers through uv_spawn's explicit list only.
    // Non-blocking because every worker accepts from the same queue: a worker
    // woken for a connection another one took must get EAGAIN, not block.
    const int fd_flags = fcntl(fd, F_GETFD);
    if (fd_flags < 0 || fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) != 0) return failure("fcntl(FD_CLOEXEC)", fd, name, errno);
    const int status_flags = fcntl(fd, F_GETFL);
    if (status_flags < 0 || fcntl(fd, F_SETFL, status_flags | O_NONBLOCK) != 0) {
        return failure("fcntl(O_NONBLOCK)", fd, name, errno);
    }
    return InheritedSocket{UniqueFd(fd), name, addr.ss_family, printable_address(addr, length)};
}

}  // namespace

std::variant<std::vector<InheritedSocket>, std::string> take_inherited_sockets() {
    const char* pid_text = std::getenv("LISTEN_PID");
    const char* count_text = std::getenv("LISTEN_FDS");
    const char* names_text = std::getenv("LISTEN_FDNAMES");
    UnsetOnExit unset;
    std::vector<InheritedSocket> sockets;

    if (pid_text == nullptr) return sockets;
    const auto pid = parse_whole_number<pid_t>(pid_text);
    if (!pid || *pid <= 0) return "LISTEN_PID='" + std::string(pid_text) + "' is not a process id";
    // Meant for another process: the variables leaked to us from a parent.
    if (*pid != getpid()) return sockets;
    if (count_text == nullptr) return "LISTEN_PID is set but LISTEN_FDS is not";
    const auto parsed_count = parse_whole_number<int>(count_text);
    if (!parsed_count || *parsed_count < 0 || *parsed_count > INT_MAX - first_fd) {
        return "LISTEN_FDS='" + std::string(count_text) + "' is not a number of file descriptors";
    }
    const int count = *parsed_count;
    std::vector<std::string> names(static_cast<std::size_t>(count), "unknown");
    if (names_text != nullptr) {
        names = split_names(names_text);
        // An empty LISTEN_FDNAMES with no fds is one empty name, not a mismatch.
        if (count == 0 && names.size() == 1 && names[0].empty()) names.clear();
        if (names.size() != static_cast<std::size_t>(count)) {
            return "LISTEN_FDNAMES='" + std::string(names_text) + "' names " + std::to_string(names.size()) +
                   " sockets but LISTEN_FDS=" + std::to_string(count);
        }
    }
    for (int i = 0; i < count; ++i) {
        auto taken = take(first_fd + i, names[static_cast<std::size_t>(i)]);
        if (auto* error = std::get_if<std::string>(&taken)) return std::move(*error);
        sockets.push_back(std::move(std::get<InheritedSocket>(taken)));
    }
    return sockets;
}

}  // namespace clusterd::supervisor
