// The daemon speaks systemd's notify protocol to a datagram socket of the
// test's own, exactly as systemd would receive it: READY=1 once every worker
// is ready, STATUS= lines, WATCHDOG=1 pings at half of $WATCHDOG_USEC, and
// STOPPING=1 when it is told to stop.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"

using namespace clusterd::test;

namespace {

// A bound AF_UNIX datagram socket in a fresh temporary directory.
class NotifyListener {
public:
    NotifyListener() {
        char dir_template[] = "/tmp/clusterd-notify-XXXXXX";
        const char* made = mkdtemp(dir_template);
        REQUIRE(made != nullptr);
        dir_ = made;
        path_ = dir_ + "/notify.sock";
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    }
    ~NotifyListener() {
        ::close(fd_);
        ::unlink(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    NotifyListener(const NotifyListener&) = delete;
    NotifyListener& operator=(const NotifyListener&) = delete;

    [[nodiscard]] const std::string& path() const { return path_; }

    // Reads datagrams until one contains `wanted` or the timeout passes.
    bool wait_for(const std::string& wanted, Millis timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (std::any_of(received_.begin(), received_.end(),
                            [&](const std::string& d) { return d.find(wanted) != std::string::npos; })) {
                return true;
            }
            const auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd poll_fd{fd_, POLLIN, 0};
            if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) continue;
            char buffer[4096];
            const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
            if (n > 0) received_.emplace_back(buffer, static_cast<std::size_t>(n));
        }
    }
    [[nodiscard]] std::size_t count(const std::string& wanted) const {
        return static_cast<std::size_t>(std::count_if(received_.begin(), received_.end(), [&](const std::string& d) {
            return d.find(wanted) != std::string::npos;
        }));
    }
    // Index of the first datagram containing `wanted`, or the number of datagrams.
    [[nodiscard]] std::size_t first(const std::string& wanted) const {
        for (std::size_t i = 0; i < received_.size(); ++i) {
            if (received_[i].find(wanted) != std::string::npos) return i;
        }
        return received_.size();
    }

private:
    std::string dir_;
    std::string path_;
    int fd_ = -1;
    std::vector<std::string> received_;
};

}  // namespace

TEST_CASE("READY then RELOADING and READY on SIGHUP then STOPPING on SIGTERM with STATUS and watchdog pings",
          "[integration][systemd]") {
    NotifyListener systemd;
    DaemonOptions options;
    options.args = {"--workers", "2"};
    options.env = {{"NOTIFY_SOCKET", systemd.path()}, {"WATCHDOG_USEC", "200000"}};
    Daemon daemon(options);

    REQUIRE(systemd.wait_for("READY=1", 10s));
    CHECK(systemd.wait_for("STATUS=2/2 workers ready", 10s));
    // READY=1 comes only after both workers reported ready.
    CHECK(systemd.first("STATUS=2/2 workers ready") <= systemd.first("READY=1") + 1);
    // Pings every 100 ms: a second is plenty for several.
    CHECK(eventually(
        [&] {
            (void)systemd.wait_for("never sent", 100ms);
            return systemd.count("WATCHDOG=1") >= 3;
        },
        10s, 1ms));

    // A reload: RELOADING=1 (with the timestamp Type=notify-reload wants), then READY=1 again.
    REQUIRE(daemon.send_signal(SIGHUP));
    CHECK(systemd.wait_for("RELOADING=1\nMONOTONIC_USEC=", 10s));
    CHECK(daemon.wait_for_log("reload complete"));
    CHECK(eventually(
        [&] {
            (void)systemd.wait_for("never sent", 50ms);
            return systemd.count("READY=1") == 2;
        },
        10s, 1ms));
    CHECK(systemd.first("RELOADING=1") > systemd.first("READY=1"));

    REQUIRE(daemon.send_signal(SIGTERM));
    CHECK(systemd.wait_for("STOPPING=1", 10s));
    auto exit = daemon.wait_exit(15s);
    REQUIRE(exit);
    CHECK(exit->clean());
    CHECK(systemd.count("READY=1") == 2);
    CHECK(daemon.no_worker_left());
}

TEST_CASE("STATUS names the last death and workers do not inherit NOTIFY_SOCKET", "[integration][systemd]") {
    NotifyListener systemd;
    DaemonOptions options;
    options.args = {"--workers", "1"};
    options.env = {{"NOTIFY_SOCKET", systemd.path()}};
    Daemon daemon(options);
    REQUIRE(systemd.wait_for("READY=1", 10s));
    const auto workers = daemon.worker_pids();
    REQUIRE(workers.size() == 1);
    // The worker's environment has no NOTIFY_SOCKET: only the supervisor speaks for the service.
    std::string environ_text;
    {
        FILE* file = std::fopen(("/proc/" + std::to_string(workers[0]) + "/environ").c_str(), "r");
        REQUIRE(file != nullptr);
        for (int c; (c = std::fgetc(file)) != EOF;) environ_text += static_cast<char>(c);
        std::fclose(file);
    }
    CHECK(environ_text.find("NOTIFY_SOCKET=") == std::string::npos);

    REQUIRE(::kill(workers[0], SIGKILL) == 0);
    CHECK(systemd.wait_for("last: worker 0 (pid " + std::to_string(workers[0]) + ") killed by SIGKILL", 10s));
    CHECK(daemon.stop_and_check_clean());
}
