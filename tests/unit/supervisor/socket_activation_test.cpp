// Each case runs in a forked child: only a process that controls its own fd
// table can put sockets on fds 3.. the way systemd does. The child reports a
// failed expectation as a sentence through a pipe and exits non-zero.
#include "supervisor/socket_activation.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"

using namespace clusterd;
using namespace clusterd::supervisor;

namespace {

UniqueFd tcp_socket(bool listening, int type = SOCK_STREAM) {
    UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    if (listening) REQUIRE(::listen(fd.get(), 16) == 0);
    return fd;
}

std::uint16_t port_of(int fd) {
    sockaddr_in addr{};
    socklen_t length = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
    return ntohs(addr.sin_port);
}

UniqueFd unix_listener(const std::string& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof addr.sun_path);
    path.copy(addr.sun_path, path.size());
    ::unlink(path.c_str());
    REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd.get(), 16) == 0);
    return fd;
}

// What a child found wrong, or "" when everything held.
using ChildCheck = std::function<std::string()>;

// Forks; in the child, moves fds onto 3, 4, ... (without close-on-exec, as
// systemd passes them), sets the environment (LISTEN_PID=self when
// listen_pid is "self"), runs check and exits. Returns the child's report.
std::string run_activated(const std::vector<int>& fds, const std::string& listen_pid, const char* listen_fds,
                          const char* listen_fdnames, const ChildCheck& check) {
    int report[2];
    REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // Out of the way of 3.. first: the pipe and the sources may sit there.
        const int writer = ::fcntl(report[1], F_DUPFD_CLOEXEC, 200);
        std::vector<int> high;
        for (int fd : fds) high.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 210));
        for (std::size_t i = 0; i < high.size(); ++i) {
            if (::dup2(high[i], 3 + static_cast<int>(i)) < 0) ::_exit(90);
        }
        const std::string pid = listen_pid == "self" ? std::to_string(::getpid()) : listen_pid;
        ::setenv("LISTEN_PID", pid.c_str(), 1);
        if (listen_fds != nullptr) ::setenv("LISTEN_FDS", listen_fds, 1);
        else ::unsetenv("LISTEN_FDS");
        if (listen_fdnames != nullptr) ::setenv("LISTEN_FDNAMES", listen_fdnames, 1);
        else ::unsetenv("LISTEN_FDNAMES");
        std::string problem = check();
        if (problem.empty() && (std::getenv("LISTEN_PID") || std::getenv("LISTEN_FDS") || std::getenv("LISTEN_FDNAMES"))) {
            problem = "the LISTEN_* variables are still set";
        }
        (void)!::write(writer, problem.data(), problem.size());
        ::_exit(problem.empty() ? 0 : 1);
    }
    ::close(report[1]);
    std::string problem;
    char buffer[512];
    for (ssize_t got; (got = ::read(report[0], buffer, sizeof buffer)) > 0;) problem.append(buffer, static_cast<std::size_t>(got));
    ::close(report[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    if (!WIFEXITED(status)) return "the child died with wait status " + std::to_string(status);
    if (WEXITSTATUS(status) != 0 && problem.empty()) return "the child exited with " + std::to_string(WEXITSTATUS(status));
    return problem;
}

std::string expect_error_containing(const std::string& part) {
    auto result = take_inherited_sockets();
    auto* error = std::get_if<std::string>(&result);
    if (error == nullptr) return "expected an error containing '" + part + "', got sockets";
    if (error->find(part) == std::string::npos) return "expected an error containing '" + part + "', got: " + *error;
    return {};
}

// Runs take_inherited_sockets() on fds and checks that it refuses them with a sentence containing error.
void check_refused(const std::vector<int>& fds, const char* listen_pid, const char* listen_fds,
                   const char* listen_fdnames, const std::string& error) {
    const std::string problem =
        run_activated(fds, listen_pid, listen_fds, listen_fdnames, [&] { return expect_error_containing(error); });
    INFO(problem);
    CHECK(problem.empty());
}

std::string expect_no_sockets() {
    auto result = take_inherited_sockets();
    if (auto* error = std::get_if<std::string>(&result)) return "expected no sockets, got the error: " + *error;
    if (!std::get<std::vector<InheritedSocket>>(result).empty()) return "expected no sockets, got some";
    return {};
}

}  // namespace

TEST_CASE("a TCP and a unix listening socket from systemd are taken with their names", "[supervisor][socket_activation]") {
    UniqueFd tcp = tcp_socket(true);
    const std::string address = "127.0.0.1:" + std::to_string(port_of(tcp.get()));
    const std::string path = (std::filesystem::temp_directory_path() / ("clusterd-activation-" + std::to_string(getpid()))).string();
    UniqueFd local = unix_listener(path);

    const std::string problem = run_activated({tcp.get(), local.get()}, "self", "2", "http:admin", [&]() -> std::string {
        auto result = take_inherited_sockets();
        if (auto* error = std::get_if<std::string>(&result)) return "unexpected error: " + *error;
        auto& sockets = std::get<std::vector<InheritedSocket>>(result);
        if (sockets.size() != 2) return "expected 2 sockets, got " + std::to_string(sockets.size());
        const InheritedSocket& http = sockets[0];
        const InheritedSocket& admin = sockets[1];
        if (http.fd.get() != 3 || http.name != "http" || http.family != AF_INET || http.address != address) {
            return "socket 0 is fd " + std::to_string(http.fd.get()) + " '" + http.name + "' at " + http.address;
        }
        if (admin.fd.get() != 4 || admin.name != "admin" || admin.family != AF_UNIX || admin.address != "unix:" + path) {
            return "socket 1 is fd " + std::to_string(admin.fd.get()) + " '" + admin.name + "' at " + admin.address;
        }
        for (const auto& socket : sockets) {
            if ((::fcntl(socket.fd.get(), F_GETFD) & FD_CLOEXEC) == 0) return socket.name + " is not close-on-exec";
            if ((::fcntl(socket.fd.get(), F_GETFL) & O_NONBLOCK) == 0) return socket.name + " is not non-blocking";
        }
        return {};
    });
    ::unlink(path.c_str());
    INFO(problem);
    CHECK(problem.empty());
}

TEST_CASE("sockets without LISTEN_FDNAMES are named unknown, IPv6 is printed in brackets",
          "[supervisor][socket_activation]") {
    UniqueFd v6(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(v6);
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_loopback;
    if (::bind(v6.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        WARN("no IPv6 loopback here (" << std::strerror(errno) << "): skipping");
        return;
    }
    REQUIRE(::listen(v6.get(), 16) == 0);
    socklen_t length = sizeof addr;
    REQUIRE(::getsockname(v6.get(), reinterpret_cast<sockaddr*>(&addr), &length) == 0);
    const std::string address = "[::1]:" + std::to_string(ntohs(addr.sin6_port));

    const std::string problem = run_activated({v6.get()}, "self", "1", nullptr, [&]() -> std::string {
        auto result = take_inherited_sockets();
        if (auto* error = std::get_if<std::string>(&result)) return "unexpected error: " + *error;
        auto& sockets = std::get<std::vector<InheritedSocket>>(result);
        if (sockets.size() != 1) return "expected 1 socket, got " + std::to_string(sockets.size());
        if (sockets[0].name != "unknown" || sockets[0].family != AF_INET6 || sockets[0].address != address) {
            return "got '" + sockets[0].name + "' at " + sockets[0].address;
        }
        return {};
    });
    INFO(problem);
    CHECK(problem.empty());
}

TEST_CASE("sockets meant for another process, or none at all, are ignored", "[supervisor][socket_activation]") {
    UniqueFd tcp = tcp_socket(true);
    SECTION("LISTEN_PID is another pid") {
        const std::string problem = run_activated({tcp.get()}, "1", "1", "http", expect_no_sockets);
        INFO(problem);
        CHECK(problem.empty());
    }
    SECTION("LISTEN_FDS=0") {
        const std::string problem = run_activated({}, "self", "0", "", expect_no_sockets);
        INFO(problem);
        CHECK(problem.empty());
    }
    SECTION("nothing set") {
        ::unsetenv("LISTEN_PID");
        ::unsetenv("LISTEN_FDS");
        auto result = take_inherited_sockets();
        REQUIRE(std::holds_alternative<std::vector<InheritedSocket>>(result));
        CHECK(std::get<std::vector<InheritedSocket>>(result).empty());
    }
}

TEST_CASE("a broken activation environment is a precise error", "[supervisor][socket_activation]") {
    UniqueFd tcp = tcp_socket(true);
    struct Case {
        const char* listen_pid;
        const char* listen_fds;
        const char* listen_fdnames;
        const char* error;
    };
    const Case bad = GENERATE(Case{"self", "two", nullptr, "LISTEN_FDS='two' is not a number of file descriptors"},
                              Case{"self", "-1", nullptr, "LISTEN_FDS='-1' is not a number"},
                              Case{"self", nullptr, nullptr, "LISTEN_PID is set but LISTEN_FDS is not"},
                              Case{"me", "1", nullptr, "LISTEN_PID='me' is not a process id"},
                              Case{"self", "1", "http:admin", "LISTEN_FDNAMES='http:admin' names 2 sockets but LISTEN_FDS=1"});
    check_refused({tcp.get()}, bad.listen_pid, bad.listen_fds, bad.listen_fdnames, bad.error);
}

TEST_CASE("a passed descriptor that is not a listening stream socket is refused", "[supervisor][socket_activation]") {
    SECTION("a pipe") {
        int pipe_fds[2];
        REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
        UniqueFd reader(pipe_fds[0]);
        UniqueFd writer(pipe_fds[1]);
        check_refused({reader.get()}, "self", "1", "http", "fd 3 ('http') passed by socket activation is not a socket");
    }
    SECTION("a bound socket that does not listen") {
        UniqueFd bound = tcp_socket(false);
        check_refused({bound.get()}, "self", "1", "http", "fd 3 ('http') passed by socket activation is not listening");
    }
    SECTION("a datagram socket") {
        UniqueFd datagram = tcp_socket(false, SOCK_DGRAM);
        check_refused({datagram.get()}, "self", "1", "http", "fd 3 ('http') passed by socket activation is not a stream socket");
    }
    SECTION("the second of two is bad") {
        UniqueFd good = tcp_socket(true);
        UniqueFd bound = tcp_socket(false);
        check_refused({good.get(), bound.get()}, "self", "2", nullptr, "fd 4 ('unknown') passed by socket activation is not listening");
    }
}
