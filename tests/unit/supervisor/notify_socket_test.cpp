#include "supervisor/notify_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

using clusterd::supervisor::NotifySocket;

namespace {

// What systemd's sd_notify does: one datagram to the path, nothing else.
void send_datagram(const std::string& path, const std::string& text) {
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    CHECK(::sendto(fd, text.data(), text.size(), 0, reinterpret_cast<const sockaddr*>(&address), sizeof address) ==
          static_cast<ssize_t>(text.size()));
    ::close(fd);
}

struct Received {
    std::vector<std::pair<std::string, pid_t>> messages;
};

std::string temporary_path() {
    char dir[] = "/tmp/clusterd-notify-test-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    return std::string(dir) + "/notify";
}

}  // namespace

TEST_CASE("a notify socket hands on each datagram with the pid the kernel vouches for", "[supervisor][notify]") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    const std::string path = temporary_path();
    Received received;
    auto opened = NotifySocket::open(&loop, path, [&](std::string_view text, pid_t sender) {
        received.messages.emplace_back(std::string(text), sender);
    });
    REQUIRE(std::holds_alternative<NotifySocket*>(opened));
    auto* socket = std::get<NotifySocket*>(opened);

    send_datagram(path, "READY=1\nSTATUS=up");
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        send_datagram(path, "WATCHDOG=1");
        ::_exit(0);
    }
    REQUIRE(::waitpid(child, nullptr, 0) == child);
    send_datagram(path, std::string(5000, 'x'));  // over systemd's 4096: refused
    send_datagram(path, "STOPPING=1");

    while (received.messages.size() < 3) uv_run(&loop, UV_RUN_ONCE);
    REQUIRE(received.messages.size() == 3);
    CHECK(received.messages[0] == std::pair<std::string, pid_t>("READY=1\nSTATUS=up", ::getpid()));
    CHECK(received.messages[1] == std::pair<std::string, pid_t>("WATCHDOG=1", child));
    CHECK(received.messages[2].first == "STOPPING=1");

    SECTION("the path is private to the supervisor's uid and gone after close") {
        struct stat info{};
        REQUIRE(::stat(path.c_str(), &info) == 0);
        CHECK((info.st_mode & 0777) == 0600);
    }
    socket->close();
    CHECK(::access(path.c_str(), F_OK) != 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    ::rmdir(path.substr(0, path.rfind('/')).c_str());
}

TEST_CASE("a notify socket whose path is taken is an error that names it", "[supervisor][notify]") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    const std::string path = temporary_path();
    auto first = NotifySocket::open(&loop, path, [](std::string_view, pid_t) {});
    REQUIRE(std::holds_alternative<NotifySocket*>(first));
    auto second = NotifySocket::open(&loop, path, [](std::string_view, pid_t) {});
    REQUIRE(std::holds_alternative<std::string>(second));
    CHECK_THAT(std::get<std::string>(second), Catch::Contains(path) && Catch::Contains("Address already in use"));
    std::get<NotifySocket*>(first)->close();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    ::rmdir(path.substr(0, path.rfind('/')).c_str());
}
