// Socket activation through Debian's own systemd-socket-activate, which binds
// the socket, waits for the first connection and execs clusterd with
// LISTEN_FDS/LISTEN_PID set, as systemd does for clusterd.socket. The
// connection that triggered the start is served, not lost.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

// Debian's systemd package puts it here; the launcher is exec'd by path.
const std::string socket_activate = "/usr/bin/systemd-socket-activate";

bool have_socket_activate() { return ::access(socket_activate.c_str(), X_OK) == 0; }

// A port nobody listens on right now (systemd-socket-activate cannot bind port 0).
std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    ::close(fd);
    return ntohs(address.sin_port);
}

}  // namespace

TEST_CASE("a TCP socket passed by systemd-socket-activate is served and --listen is ignored",
          "[integration][systemd]") {
    if (!have_socket_activate()) {
        WARN("systemd-socket-activate is not installed (Debian package systemd); skipping");
        return;
    }
    const std::uint16_t port = free_port();
    DaemonOptions options;
    // It hands the program a clean environment: pass on what the fixture set.
    options.launcher = {socket_activate, "-E", "CLUSTERD_ALLOW_ROOT", "-l", "127.0.0.1:" + std::to_string(port), "--"};
    options.add_listen = false;
    options.args = {"--workers", "2", "--listen", "127.0.0.1:1"};  // would fail to bind: proves it is not used
    options.wait_listening = false;  // clusterd starts only once a client connects
    options.wait_ready = false;
    Daemon daemon(options);
    REQUIRE(daemon.wait_for_log("Listening on 127.0.0.1:" + std::to_string(port)));  // systemd-socket-activate's line
    // This first client is what makes systemd-socket-activate exec clusterd.
    HttpClient first(port, 30s);
    CHECK(first.get("/healthz").status == 200);
    CHECK(daemon.wait_for_log("socket activation: serving on the inherited socket"));
    CHECK(daemon.wait_for_log("all 2 workers ready"));
    CHECK(first.get("/").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a unix socket and a TCP socket passed together are both served by every worker",
          "[integration][systemd]") {
    if (!have_socket_activate()) {
        WARN("systemd-socket-activate is not installed (Debian package systemd); skipping");
        return;
    }
    char dir_template[] = "/tmp/clusterd-activate-XXXXXX";
    REQUIRE(mkdtemp(dir_template) != nullptr);
    const std::string socket_path = std::string(dir_template) + "/http.sock";
    const std::uint16_t port = free_port();
    DaemonOptions options;
    options.launcher = {socket_activate, "-E", "CLUSTERD_ALLOW_ROOT", "-l", socket_path,
                        "-l", "127.0.0.1:" + std::to_string(port), "--"};
    options.args = {"--workers", "2"};
    options.wait_listening = false;
    options.wait_ready = false;
    Daemon daemon(options);
    REQUIRE(daemon.wait_for_log("Listening on " + socket_path));
    // The first connection, on the unix socket, starts clusterd.
    const std::string curl = "curl -s --max-time 20 --unix-socket " + socket_path + " http://localhost/healthz";
    FILE* pipe = ::popen(curl.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string body;
    for (int c; (c = std::fgetc(pipe)) != EOF;) body += static_cast<char>(c);
    CHECK(::pclose(pipe) == 0);
    CHECK_THAT(body, Catch::StartsWith("ok"));
    CHECK(daemon.wait_for_log("all 2 workers ready"));
    CHECK(daemon.count_log("socket activation: serving on the inherited socket") == 2);
    HttpClient tcp(port);
    for (int i = 0; i < 10; ++i) CHECK(tcp.get("/healthz").status == 200);
    CHECK(daemon.stop_and_check_clean());
    std::filesystem::remove_all(dir_template);
}
