// Privilege separation, as nginx does it: started as root with --user, the
// supervisor keeps root (binds, reads its configuration at start and on
// every reload, writes the log file, owns the control socket), and every
// process it starts becomes the user with no capability, no new privileges
// and, unless --core-dumps, not dumpable. What matters is what that buys
// against a process of the workers' own uid, so one is forked here and tries:
// signal the supervisor, ptrace a worker, read its memory and descriptors,
// reach the control socket.
//
// Root only (the tests WARN and return otherwise). The user is the dedicated
// clusterd-test (tests/support/test_user.hpp), created on first use.
#include <dirent.h>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/config_file.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/proc_files.hpp"
#include "tests/support/test_user.hpp"

using namespace clusterd::test;

namespace {

// Owner of /proc/<pid>/fd: the process's uid while it is dumpable, root when
// not. (Not /proc/<pid> itself: the kernel always shows the effective uid there.)
uid_t proc_owner(pid_t pid) {
    struct stat info{};
    return ::stat(("/proc/" + std::to_string(pid) + "/fd").c_str(), &info) == 0 ? info.st_uid : static_cast<uid_t>(-1);
}

// Every child of pid, from the kernel's own list.
std::vector<pid_t> children_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    std::vector<pid_t> children;
    for (pid_t child = 0; in >> child;) children.push_back(child);
    return children;
}

std::optional<TestUser> user_or_skip() {
    if (::geteuid() != 0) {
        WARN("not running as root; privilege separation cannot be tested here");
        return std::nullopt;
    }
    std::string why;
    auto user = dedicated_test_user(&why);
    if (!user) FAIL(why);
    return user;
}

// Every capability set empty and no way to gain one: what each child shows.
void check_confined(pid_t pid, const TestUser& user) {
    INFO("pid " << pid);
    CHECK(status_field(pid, "Uid") == std::to_string(user.uid));
    CHECK(status_field(pid, "Gid") == std::to_string(user.gid));
    CHECK(status_field(pid, "NoNewPrivs") == "1");
    CHECK(status_field(pid, "CapEff") == "0000000000000000");
    CHECK(status_field(pid, "CapPrm") == "0000000000000000");
    CHECK(status_field(pid, "CapInh") == "0000000000000000");
    CHECK(status_field(pid, "CapAmb") == "0000000000000000");
    CHECK(status_field(pid, "CapBnd") == "0000000000000000");
}

struct Targets {
    pid_t supervisor;
    pid_t worker;
    std::string control_socket;
};

// What the process of the workers' uid tries; its exit code names the first
// attempt that did not fail as it must (0: every one was refused).
int attack(const void* context) {
    const auto& targets = *static_cast<const Targets*>(context);
    const std::string proc = "/proc/" + std::to_string(targets.worker);
    // The kernel's rule: a signal needs the sender's uid to match the
    // target's real or saved uid, and the supervisor's are root's.
    if (::kill(targets.supervisor, SIGTERM) == 0 || errno != EPERM) return 1;
    if (::kill(targets.supervisor, SIGKILL) == 0 || errno != EPERM) return 2;
    // Same uid, but not dumpable: no ptrace, no memory, no descriptors.
    if (::ptrace(PTRACE_ATTACH, targets.worker, nullptr, nullptr) == 0 || errno != EPERM) return 3;
    if (::ptrace(PTRACE_SEIZE, targets.worker, nullptr, nullptr) == 0 || errno != EPERM) return 4;
    const int mem = ::open((proc + "/mem").c_str(), O_RDONLY);
    if (mem >= 0 || (errno != EACCES && errno != EPERM)) return 5;
    const int environment = ::open((proc + "/environ").c_str(), O_RDONLY);
    if (environment >= 0 || (errno != EACCES && errno != EPERM)) return 6;
    DIR* fds = ::opendir((proc + "/fd").c_str());
    if (fds != nullptr || (errno != EACCES && errno != EPERM)) return 7;
    const int listener = ::open((proc + "/fd/3").c_str(), O_RDONLY);  // the listening socket
    if (listener >= 0 || (errno != EACCES && errno != EPERM)) return 8;
    char target[64];
    if (::readlink((proc + "/exe").c_str(), target, sizeof target) >= 0 || (errno != EACCES && errno != EPERM)) {
        return 9;
    }
    // Nor stop or reload it by its control socket: it is root's, mode 0600.
    const int control = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    targets.control_socket.copy(address.sun_path, sizeof address.sun_path - 1);
    if (control < 0 || ::connect(control, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 ||
        errno != EACCES) {
        return 10;
    }
    return 0;
}

// With --core-dumps the same process can ptrace the worker: the contrast
// that shows the refusals above come from the worker being non-dumpable.
int attach(const void* context) {
    const auto& targets = *static_cast<const Targets*>(context);
    // SEIZE does not stop the worker; our exit detaches it again.
    return ::ptrace(PTRACE_SEIZE, targets.worker, nullptr, nullptr) == 0 ? 0 : 1;
}

}  // namespace

TEST_CASE("as root with --user the supervisor keeps root and every child becomes the user with nothing more",
          "[integration][privileges]") {
    const auto user = user_or_skip();
    if (!user) return;
    const unsigned http = worker_processes(2);
    Daemon daemon({"--workers", "2", "--user", user->name, "--compute", "processes", "--compute-processes", "1",
                   "--admin-listen", "127.0.0.1:0"});
    CHECK(daemon.wait_for_log("workers run as " + user->name + ":"));
    CHECK(daemon.count_log("shared with other daemons") == 0);  // a dedicated user draws no warning
    CHECK(status_field(daemon.pid(), "Uid") == "0");
    const auto children = daemon.wait_for_workers(http + 1);  // the HTTP workers and the compute process
    REQUIRE(children.size() == http + 1);
    // Every child, the admin worker included (worker_pids() leaves it out).
    REQUIRE(daemon.wait_for_log("admin worker (pid"));
    const auto all = children_of(daemon.pid());
    CHECK(all.size() == children.size() + 1);
    for (pid_t child : all) {
        check_confined(child, *user);
        CHECK(proc_owner(child) == 0);  // not dumpable
    }
    // Nothing of the supervisor's is the user's: the control socket is root's.
    struct stat control{};
    REQUIRE(::stat(daemon.control_socket().c_str(), &control) == 0);
    CHECK(control.st_uid == 0);
    CHECK((control.st_mode & 0777) == 0600);
    CHECK(HttpClient(daemon.port()).get("/healthz").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a process of the workers' uid can neither signal the supervisor nor ptrace or read a worker",
          "[integration][privileges]") {
    const auto user = user_or_skip();
    if (!user) return;
    Daemon daemon({"--workers", "1", "--user", user->name});
    const auto workers = daemon.wait_for_workers(worker_processes(1));
    REQUIRE(workers.size() == 1);
    const Targets targets{daemon.pid(), workers[0], daemon.control_socket()};
    CHECK(as_user(*user, attack, &targets) == 0);
    // Every attempt failed and changed nothing.
    CHECK(daemon.running());
    CHECK(daemon.worker_pids() == workers);
    CHECK(HttpClient(daemon.port()).get("/healthz").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("with --core-dumps the workers stay dumpable, still without capabilities", "[integration][privileges]") {
    const auto user = user_or_skip();
    if (!user) return;
    Daemon daemon({"--workers", "1", "--user", user->name, "--core-dumps"});
    const auto workers = daemon.wait_for_workers(worker_processes(1));
    REQUIRE(workers.size() == 1);
    check_confined(workers[0], *user);
    CHECK(proc_owner(workers[0]) == user->uid);
    const Targets targets{daemon.pid(), workers[0], {}};
    CHECK(as_user(*user, attach, &targets) == 0);
    CHECK(HttpClient(daemon.port()).get("/healthz").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a root-only configuration file works at start and on reload with --user", "[integration][privileges]") {
    const auto user = user_or_skip();
    if (!user) return;
    ConfigFile file;
    file.write("workers = 1\n");
    REQUIRE(::chmod(file.path().c_str(), 0600) == 0);
    Daemon daemon({"--config", file.path(), "--user", user->name});
    const auto first = daemon.wait_for_workers(worker_processes(1));
    REQUIRE(first.size() == worker_processes(1));
    // Read again by the supervisor, still root: applied, every worker replaced.
    file.write("workers = 1\nmax-body-size = 2048\n");
    REQUIRE(daemon.send_signal(SIGHUP));
    CHECK(daemon.wait_for_log("reload complete"));
    CHECK(daemon.count_log("reload refused") == 0);
    REQUIRE(daemon.wait_for_replacement(first, worker_processes(1)));
    for (pid_t worker : daemon.worker_pids()) check_confined(worker, *user);
    struct stat info{};
    REQUIRE(::stat(file.path().c_str(), &info) == 0);
    CHECK(info.st_uid == 0);
    CHECK((info.st_mode & 0777) == 0600);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a --log-file with --user is written by the supervisor as root and SIGUSR1 reopens it",
          "[integration][privileges][logs]") {
    const auto user = user_or_skip();
    if (!user) return;
    char dir_template[] = "/tmp/clusterd-logs-XXXXXX";  // 0700, root's: the workers could not open a file here
    REQUIRE(mkdtemp(dir_template) != nullptr);
    const std::string dir = dir_template;
    const std::string log = dir + "/clusterd.log";
    DaemonOptions options;
    options.args = {"--workers", "1", "--log-file", log, "--user", user->name, "--enable-fault-injection"};
    options.wait_listening = false;  // the port is in the file, not on stderr
    options.wait_ready = false;
    Daemon daemon(options);
    REQUIRE(file_contains(log, "all 1 workers ready"));
    std::smatch port;
    const std::string first = read_all(log);
    REQUIRE(std::regex_search(first, port, std::regex(R"(listening on 127\.0\.0\.1:(\d+))")));
    HttpClient client(static_cast<std::uint16_t>(std::stoi(port[1].str())));
    CHECK(client.get("/healthz").status == 200);

    std::filesystem::rename(log, log + ".1");
    REQUIRE(daemon.send_signal(SIGUSR1));
    REQUIRE(file_contains(log, "reopened the log file"));
    (void)client.get("/debug/crash?mode=abort");  // a worker's line and the supervisor's, in the new file
    CHECK(file_contains(log, "fault injection: abort on request"));
    CHECK(file_contains(log, "killed by SIGABRT"));
    struct stat info{};
    REQUIRE(::stat(log.c_str(), &info) == 0);
    CHECK(info.st_uid == 0);
    CHECK(daemon.log_text().empty());  // nothing went to stderr
    REQUIRE(daemon.send_signal(SIGTERM));
    const auto status = daemon.wait_exit(15s);
    REQUIRE(status);
    CHECK(status->clean());
    CHECK(daemon.no_worker_left());  // and no segment left behind
    std::filesystem::remove_all(dir);
}

TEST_CASE("a --user nobody draws a warning: nobody is shared with other daemons", "[integration][privileges]") {
    if (::geteuid() != 0) {
        WARN("not running as root; --user cannot be tested here");
        return;
    }
    Daemon daemon({"--workers", "1", "--user", "nobody"});
    CHECK(daemon.wait_for_log(std::regex(R"(\[warn(ing)?\].*--user nobody .*shared with other daemons.*dedicated user)")));
    CHECK(daemon.stop_and_check_clean());
}
