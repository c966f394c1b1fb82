// Privileges: started as root with --user, the supervisor keeps root and runs
// every worker as that user, with the shared memory given to it; started as
// root without --user, it refuses to run workers as root unless --allow-root
// says so. What the workers may then do is privilege_separation_test.cpp's.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/shm_entries.hpp"

using namespace clusterd::test;

namespace {

// The real uid of a process, from /proc/<pid>/status.
long uid_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("Uid:", 0) == 0) return std::stol(line.substr(4));
    }
    return -1;
}

}  // namespace

TEST_CASE("as root with --user every worker runs as that user, the supervisor as root", "[integration][privileges]") {
    if (::geteuid() != 0) {
        WARN("not running as root; the privilege drop cannot be tested here");
        return;
    }
    const passwd* nobody = ::getpwnam("nobody");
    REQUIRE(nobody != nullptr);
    Daemon daemon({"--workers", "2", "--user", "nobody"});
    CHECK(daemon.wait_for_log("workers run as nobody:"));
    CHECK(uid_of(daemon.pid()) == 0);
    const auto workers = daemon.wait_for_workers(worker_processes(2));
    REQUIRE(workers.size() == worker_processes(2));
    for (pid_t worker : workers) CHECK(uid_of(worker) == static_cast<long>(nobody->pw_uid));
    // The workers hold the segment by inherited descriptor; its memfds stay
    // root's, mode 0600, so a process of `nobody` cannot reopen them by /proc.
    const auto body = segment_memfds(workers[0], "body");
    REQUIRE(body.size() == 1);
    struct stat segment {};
    REQUIRE(::stat(body[0].c_str(), &segment) == 0);
    CHECK(segment.st_uid == 0);
    CHECK((segment.st_mode & 0077) == 0);
    HttpClient client(daemon.port());
    CHECK(client.get("/healthz").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("as root without --user workers are refused unless --allow-root", "[integration][privileges]") {
    if (::geteuid() != 0) {
        WARN("not running as root; nothing to refuse");
        return;
    }
    auto refused = run_clusterd({"--listen", "127.0.0.1:0", "--workers", "1"}, {{"CLUSTERD_ALLOW_ROOT", "false"}});
    REQUIRE(refused);
    CHECK(refused->status.exited);
    CHECK(refused->status.code == 2);
    CHECK_THAT(refused->output, Catch::Contains("--user"));
    CHECK_THAT(refused->output, Catch::Contains("--allow-root"));

    auto unknown = run_clusterd({"--listen", "127.0.0.1:0", "--user", "no-such-user-here"});
    REQUIRE(unknown);
    CHECK(unknown->status.code == 2);
    CHECK_THAT(unknown->output, Catch::Contains("no-such-user-here"));
}
