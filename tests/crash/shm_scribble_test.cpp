// A compromised worker against the supervisor. A worker holds the segment's
// body read-write (the memfd it inherited) and its header read-only; this test
// plays the worst such worker from outside, with exactly those rights: it
// opens the victim's own descriptors through /proc/<pid>/fd, checks that the
// header cannot be mapped writable nor the body resized, then writes random
// bytes over every byte of the body, over and over, while a real client keeps
// sending requests, and finally kills the victim. The supervisor must stay
// up, replace it (and any other worker whose slot it wrecked), repair the job
// ring, keep serving, and stop cleanly.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/shm_entries.hpp"

using namespace clusterd::test;

namespace {

constexpr unsigned scribble_rounds = 40;

// The first HTTP worker: it holds the listening socket.
pid_t an_http_worker(Daemon& daemon) {
    for (pid_t pid : daemon.worker_pids()) {
        if (daemon.holds_listener(pid)) return pid;
    }
    return 0;
}

// What the victim could do to its header: nothing that writes.
void check_header_unwritable(pid_t victim) {
    const auto header = segment_memfds(victim, "header");
    REQUIRE(header.size() == 1);
    // The victim's own descriptor is read-only (fdinfo's flags, in octal)...
    std::string fdinfo = header[0];
    fdinfo.replace(fdinfo.rfind("/fd/"), 4, "/fdinfo/");
    std::ifstream info(fdinfo);
    std::string key;
    std::string flags;
    while (info >> key && key != "flags:") {
    }
    info >> flags;
    REQUIRE_FALSE(flags.empty());
    CHECK((std::stoul(flags, nullptr, 8) & O_ACCMODE) == O_RDONLY);
    // ...and a read-write reopen (root may; a same-uid worker may too) still
    // cannot map it writable: the seal forbids any new writable mapping.
    const int fd = ::open(header[0].c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    void* at = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(at == MAP_FAILED);
    CHECK(errno == EPERM);
    if (at != MAP_FAILED) ::munmap(at, 4096);
    CHECK(::write(fd, "x", 1) == -1);
    ::close(fd);
}

// The body: everything the victim can write. Returns its size; 0 on failure.
std::size_t scribble_body(pid_t victim, unsigned rounds, std::uint64_t seed) {
    const auto body = segment_memfds(victim, "body");
    REQUIRE(body.size() == 1);
    const int fd = ::open(body[0].c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    struct stat info {};
    REQUIRE(::fstat(fd, &info) == 0);
    const auto size = static_cast<std::size_t>(info.st_size);
    // Sealed: no shrinking it under the supervisor's mapping (SIGBUS), no growing.
    CHECK(::ftruncate(fd, 0) == -1);
    CHECK(::ftruncate(fd, info.st_size * 2) == -1);
    void* at = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    REQUIRE(at != MAP_FAILED);
    auto* words = static_cast<std::uint64_t*>(at);
    std::mt19937_64 random(seed);
    for (unsigned round = 0; round < rounds; ++round) {
        for (std::size_t i = 0; i < size / sizeof(std::uint64_t); ++i) words[i] = random();
        // Some rounds leave plausible small numbers instead (indices, lengths,
        // states just out of range are what a bounds check must catch).
        if (round % 4 == 3) {
            for (std::size_t i = 0; i < size / sizeof(std::uint64_t); ++i) words[i] = random() % 300;
        }
    }
    ::munmap(at, size);
    return size;
}

// A real client hammering the cluster until told to stop; answers are not
// judged while the segment is being wrecked, only that nothing hangs forever
// (each request is bounded by the client's timeout).
class Hammer {
public:
    Hammer(std::uint16_t port, std::string path) : thread_([this, port, path] {
        HttpClient client(port, std::chrono::seconds(5));
        while (!stop_.load()) {
            (void)client.get(path);
            sent_.fetch_add(1);
        }
    }) {}
    ~Hammer() { stop(); }
    unsigned stop() {
        stop_.store(true);
        if (thread_.joinable()) thread_.join();
        return sent_.load();
    }

private:
    std::atomic<bool> stop_{false};
    std::atomic<unsigned> sent_{0};
    std::thread thread_;
};

void survive_a_scribbler(const std::vector<std::string>& args, const std::string& work_path) {
    Daemon daemon(args);
    const pid_t victim = an_http_worker(daemon);
    REQUIRE(victim != 0);
    check_header_unwritable(victim);

    {
        Hammer hammer(daemon.port(), work_path);
        Hammer probes(daemon.port(), "/healthz");
        REQUIRE(scribble_body(victim, scribble_rounds, static_cast<std::uint64_t>(victim)) > 0);
        // The victim dies as a compromised process would end: killed, by us
        // or already by the supervisor, which judges its slot untrustworthy.
        CHECK((::kill(victim, SIGKILL) == 0 || errno == ESRCH));
        CHECK(hammer.stop() > 0);
        probes.stop();
    }

    REQUIRE(daemon.running());
    CHECK(daemon.wait_for_log(std::regex("worker \\d+ \\(pid " + std::to_string(victim) + "\\) killed by SIGKILL")));
    // Replaced, and serving again: ten answers in a row from the cluster.
    HttpClient client(daemon.port(), std::chrono::seconds(10));
    const bool serving = eventually(
        [&] {
            const auto pids = daemon.worker_pids();
            if (std::find(pids.begin(), pids.end(), victim) != pids.end()) return false;
            for (int i = 0; i < 10; ++i) {
                if (client.get("/healthz").status != 200 || client.get(work_path).status != 200) return false;
            }
            return true;
        },
        60s, 200ms);
    // Workers replaced while the body was being wrecked die young: the
    // breaker may trip, and its short cooldown (2 s here) brings them back.
    INFO(daemon.log_text());
    CHECK(serving);
    REQUIRE(daemon.running());

    // And it stops as always: every worker drained, a clean exit.
    REQUIRE(daemon.send_signal(SIGTERM));
    const auto exit = daemon.wait_exit(60s);
    REQUIRE(exit);
    CHECK(exit->clean());
    const bool none_left = daemon.no_worker_left();
    INFO(daemon.failure());
    CHECK(none_left);
}

}  // namespace

TEST_CASE("a worker that scribbles over all the shared memory it can write cannot take the supervisor down",
          "[crash][shm]") {
    survive_a_scribbler({"--workers", "2", "--hang-timeout", "2s", "--breaker-cooldown", "2s"}, "/");
}

TEST_CASE("a scribbling worker with compute processes: the job ring and payload area are wrecked and repaired",
          "[crash][shm]") {
    survive_a_scribbler({"--workers", "2", "--hang-timeout", "2s", "--breaker-cooldown", "2s", "--compute",
                         "processes", "--compute-processes", "2", "--compute-timeout", "30s"},
                        "/compute/fib?n=10");
}
