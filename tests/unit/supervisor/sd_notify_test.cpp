#include "supervisor/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>

#include "common/unique_fd.hpp"

using namespace clusterd;
using namespace clusterd::supervisor;
using namespace std::chrono_literals;

namespace {

// A NOTIFY_SOCKET of our own, as systemd would bind it.
class NotifyListener {
public:
    // name: a path, or "@..." for an abstract socket.
    explicit NotifyListener(std::string name) : name_(std::move(name)) {
        fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        REQUIRE(fd_);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        REQUIRE(name_.size() < sizeof addr.sun_path);
        name_.copy(addr.sun_path, name_.size());
        if (name_[0] == '@') addr.sun_path[0] = '\0';
        const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
        REQUIRE(::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), length) == 0);
        // Never hang a test on a datagram that did not come.
        timeval timeout{5, 0};
        REQUIRE(setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) == 0);
    }
    ~NotifyListener() {
        if (name_[0] == '/') ::unlink(name_.c_str());
    }
    NotifyListener(const NotifyListener&) = delete;
    NotifyListener& operator=(const NotifyListener&) = delete;

    [[nodiscard]] std::string receive() const {
        char buffer[4096];
        const ssize_t got = ::recv(fd_.get(), buffer, sizeof buffer, 0);
        REQUIRE(got >= 0);
        return {buffer, static_cast<std::size_t>(got)};
    }
    [[nodiscard]] bool nothing_pending() const {
        char byte;
        return ::recv(fd_.get(), &byte, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
    }
    [[nodiscard]] const std::string& name() const { return name_; }

private:
    std::string name_;
    UniqueFd fd_;
};

std::uint64_t monotonic_usec() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
}

std::string unique_abstract_name() { return "@clusterd-test-notify-" + std::to_string(getpid()); }

std::string unique_path() {
    return (std::filesystem::temp_directory_path() / ("clusterd-notify-" + std::to_string(getpid()))).string();
}

}  // namespace

TEST_CASE("every helper sends exactly systemd's datagram", "[supervisor][sd_notify]") {
    const std::string name = GENERATE(as<std::string>{}, "path", "abstract");
    NotifyListener listener(name == "path" ? unique_path() : unique_abstract_name());
    Notifier notifier(listener.name());
    REQUIRE(notifier.enabled());
    REQUIRE(notifier.socket() == listener.name());

    REQUIRE(notifier.ready());
    CHECK(listener.receive() == "READY=1");
    REQUIRE(notifier.stopping());
    CHECK(listener.receive() == "STOPPING=1");
    REQUIRE(notifier.watchdog());
    CHECK(listener.receive() == "WATCHDOG=1");
    REQUIRE(notifier.status("2/2 workers ready,\n0 restarts\r"));
    CHECK(listener.receive() == "STATUS=2/2 workers ready, 0 restarts ");
    REQUIRE(notifier.send("READY=1\nSTATUS=serving"));
    CHECK(listener.receive() == "READY=1\nSTATUS=serving");

    const auto before = monotonic_usec();
    REQUIRE(notifier.reloading());
    const auto after = monotonic_usec();
    const std::string reloading = listener.receive();
    const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
    REQUIRE(reloading.rfind(prefix, 0) == 0);
    const auto stamp = std::stoull(reloading.substr(prefix.size()));
    CHECK(stamp >= before);
    CHECK(stamp <= after);
    CHECK(listener.nothing_pending());
}

TEST_CASE("the notifier follows NOTIFY_SOCKET and is a no-op without it", "[supervisor][sd_notify]") {
    SECTION("unset") {
        ::unsetenv("NOTIFY_SOCKET");
        Notifier notifier = Notifier::from_environment();
        CHECK_FALSE(notifier.enabled());
        CHECK_FALSE(notifier.ready());
        CHECK_FALSE(notifier.status("anything"));
    }
    SECTION("set to an abstract socket") {
        NotifyListener listener(unique_abstract_name());
        ::setenv("NOTIFY_SOCKET", listener.name().c_str(), 1);
        Notifier notifier = Notifier::from_environment();
        ::unsetenv("NOTIFY_SOCKET");
        REQUIRE(notifier.ready());
        CHECK(listener.receive() == "READY=1");
    }
    SECTION("set to something that is not a socket address") {
        CHECK_FALSE(Notifier("relative/path").enabled());
        CHECK_FALSE(Notifier("").enabled());
        CHECK_FALSE(Notifier("/" + std::string(200, 'x')).enabled());
    }
}

TEST_CASE("a notifier whose socket is gone reports failure and keeps going", "[supervisor][sd_notify]") {
    Notifier notifier(unique_path() + "-absent");
    REQUIRE(notifier.enabled());
    CHECK_FALSE(notifier.ready());
    CHECK_FALSE(notifier.watchdog());  // the same errno: logged once, still false
}

TEST_CASE("the watchdog interval is ours only when WATCHDOG_PID says so", "[supervisor][sd_notify]") {
    CHECK(parse_watchdog_interval("10000000", nullptr, 42) == std::chrono::microseconds(10s));
    CHECK(parse_watchdog_interval("10000000", "42", 42) == std::chrono::microseconds(10s));
    CHECK_FALSE(parse_watchdog_interval("10000000", "43", 42));
    CHECK_FALSE(parse_watchdog_interval("10000000", "forty-two", 42));
    CHECK_FALSE(parse_watchdog_interval(nullptr, "42", 42));
    CHECK_FALSE(parse_watchdog_interval("0", nullptr, 42));
    CHECK_FALSE(parse_watchdog_interval("10s", nullptr, 42));
    CHECK_FALSE(parse_watchdog_interval("", nullptr, 42));

    SECTION("read from the environment") {
        ::setenv("WATCHDOG_USEC", "4000000", 1);
        ::setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
        CHECK(watchdog_interval() == std::chrono::microseconds(4s));
        ::setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
        CHECK_FALSE(watchdog_interval());
        ::unsetenv("WATCHDOG_PID");
        CHECK(watchdog_interval() == std::chrono::microseconds(4s));
        ::unsetenv("WATCHDOG_USEC");
        CHECK_FALSE(watchdog_interval());
    }
}

TEST_CASE("the status line says capacity, restarts, open breakers and the last problem", "[supervisor][sd_notify]") {
    StatusSummary summary;
    summary.ready = 4;
    summary.total = 4;
    CHECK(format_status_line(summary) == "4/4 workers ready, 0 restarts");

    summary.ready = 3;
    summary.restarts = 12;
    summary.breaker_open = {2};
    summary.breaker_deaths = 5;
    summary.breaker_window = Millis{30'000};
    CHECK(format_status_line(summary) == "3/4 workers ready, 12 restarts; slot 2 circuit breaker open: 5 deaths in 30 s");

    summary.breaker_open = {1, 2};
    summary.breaker_window = Millis{1'500};
    summary.last_problem = "worker 1 (pid 4242) killed by SIGSEGV\nafter 2.1 s";
    summary.activity = "reloading";
    CHECK(format_status_line(summary) ==
          "reloading: 3/4 workers ready, 12 restarts; slots 1, 2 circuit breakers open: 5 deaths in 1.5 s; "
          "last: worker 1 (pid 4242) killed by SIGSEGV after 2.1 s");

    StatusSummary one;
    one.total = 1;
    one.restarts = 1;
    CHECK(format_status_line(one) == "0/1 worker ready, 1 restart");

    one.fault_injection = true;  // first, where a truncated systemctl status line still shows it
    one.activity = "stopping";
    CHECK(format_status_line(one) == "FAULT INJECTION ENABLED; stopping: 0/1 worker ready, 1 restart");

    StatusSummary many;
    many.total = 12;
    many.breaker_open = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    many.breaker_deaths = 5;
    many.breaker_window = Millis{500};
    CHECK(format_status_line(many) ==
          "0/12 workers ready, 0 restarts; slots 0, 1, 2, 3, 4, 5, 6, 7 and 2 more circuit breakers open: 5 deaths in 500 ms");
}
