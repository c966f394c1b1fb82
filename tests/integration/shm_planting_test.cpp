// /dev/shm is a directory every local user can write. A neighbour plants
// what used to trip clusterd there (a FIFO that hung every open, a symlink
// pointing elsewhere, a regular file squatting on the next segment name) under
// the names a segment used to have, clusterd.<pid> for the pids about to be
// handed out. The segment is now memfds with no name: start, `clusterd
// status`, stop and a SIGKILLed supervisor change nothing there, and the
// planted files are left exactly as they were.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <map>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/shm_entries.hpp"

using namespace clusterd::test;

namespace {

// What a planted entry is, as lstat and its contents say.
struct Planted {
    mode_t mode = 0;
    ino_t inode = 0;
    off_t size = 0;
    std::string link;  // a symlink's target
    bool operator==(const Planted&) const = default;
};

std::optional<Planted> look_at(const std::string& path) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) return std::nullopt;
    Planted planted{info.st_mode, info.st_ino, info.st_size, {}};
    if (S_ISLNK(info.st_mode)) {
        char target[256] = {};
        if (::readlink(path.c_str(), target, sizeof target - 1) > 0) planted.link = target;
    }
    return planted;
}

// The pids the next processes will get (ns_last_pid + 1 ...): the names a
// supervisor started now would have used. A few hundred cover the daemons,
// workers and helpers a parallel test run starts meanwhile.
class Plantation {
public:
    explicit Plantation(unsigned count) {
        std::ifstream last("/proc/sys/kernel/ns_last_pid");
        long next = 0;
        last >> next;
        for (unsigned i = 1; i <= count; ++i) {
            const std::string path = "/dev/shm/clusterd." + std::to_string(next + i);
            if (look_at(path)) continue;  // not ours to touch
            bool made = false;
            switch (i % 3) {
                case 0: made = ::mkfifo(path.c_str(), 0666) == 0; break;
                case 1: made = ::symlink("/etc/passwd", path.c_str()) == 0; break;
                default: {
                    const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
                    made = fd >= 0 && ::write(fd, "squatter", 8) == 8;
                    if (fd >= 0) ::close(fd);
                }
            }
            if (made) planted_[path] = *look_at(path);
        }
    }
    ~Plantation() {
        for (const auto& [path, what] : planted_) ::unlink(path.c_str());
    }
    Plantation(const Plantation&) = delete;
    Plantation& operator=(const Plantation&) = delete;

    // Every planted entry still there and unchanged (same inode, type, size, target).
    [[nodiscard]] bool untouched() const {
        for (const auto& [path, what] : planted_) {
            const auto now = look_at(path);
            if (!now || !(*now == what)) return false;
        }
        return true;
    }
    [[nodiscard]] std::size_t size() const { return planted_.size(); }

private:
    std::map<std::string, Planted> planted_;
};

}  // namespace

TEST_CASE("FIFOs, symlinks and squatters planted in /dev/shm change nothing", "[integration][shm]") {
    Plantation plantation(300);
    REQUIRE(plantation.size() > 200);
    const auto names_before = clusterd_shm_names();
    std::vector<pid_t> supervisors;
    {
        Daemon daemon({"--workers", "2", "--name", "shm-planting-test"});
        supervisors.push_back(daemon.pid());
        HttpClient client(daemon.port());
        CHECK(client.get("/healthz").status == 200);
        auto status = run_clusterd({"status", "--name", "shm-planting-test"});
        REQUIRE(status);
        CHECK(status->status.clean());
        CHECK_THAT(status->output, Catch::Contains("workers ready"));
        REQUIRE(daemon.send_signal(SIGTERM));
        const auto exit = daemon.wait_exit(30s);
        REQUIRE(exit);
        CHECK(exit->clean());
        CHECK(daemon.no_worker_left());
    }
    CHECK(plantation.untouched());
    {
        // A SIGKILLed supervisor leaves nothing behind, and the next start
        // has nothing to clean up: the planted names are still not touched.
        Daemon killed({"--workers", "1", "--name", "shm-planting-test"});
        supervisors.push_back(killed.pid());
        REQUIRE(killed.send_signal(SIGKILL));
        REQUIRE(killed.wait_exit(15s));
        CHECK(killed.no_worker_left());
        Daemon next({"--workers", "1", "--name", "shm-planting-test-2"});
        supervisors.push_back(next.pid());
        CHECK(HttpClient(next.port()).get("/healthz").status == 200);
        CHECK(next.stop_and_check_clean());
    }
    CHECK(plantation.untouched());
    // Nothing added by any of ours, not even the SIGKILLed one. (Only names
    // of our pids count: an older clusterd elsewhere on the machine still
    // makes /dev/shm/clusterd.<pid>.)
    const auto names_after = clusterd_shm_names();
    for (pid_t pid : supervisors) {
        const std::string name = "clusterd." + std::to_string(pid);
        CHECK(names_after.count(name) == names_before.count(name));
    }
}
