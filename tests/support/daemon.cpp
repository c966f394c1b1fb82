#include "tests/support/daemon.hpp"
#include "tests/support/shm_entries.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <atomic>
// Listeners live outside the main TU: Catch's documented switch for that.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string_view>

extern char** environ;

namespace clusterd::test {
// Set by the listener below when an assertion of the running test case fails,
// so a Daemon knows to keep its log and print it.
static std::atomic<bool> current_test_failed{false};
}  // namespace clusterd::test

namespace {

struct ClusterdFailureListener : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    void testCaseStarting(Catch::TestCaseInfo const& info) override {
        clusterd::test::current_test_failed = false;
        TestEventListenerBase::testCaseStarting(info);
    }
    bool assertionEnded(Catch::AssertionStats const& stats) override {
        if (!stats.assertionResult.isOk()) clusterd::test::current_test_failed = true;
        return true;
    }
};

}  // namespace

CATCH_REGISTER_LISTENER(ClusterdFailureListener)

namespace clusterd::test {
namespace {

struct ProcStat {
    char state = '?';
    pid_t ppid = 0;
    unsigned long long start_time = 0;
};

std::optional<ProcStat> read_stat(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(in, text)) return std::nullopt;
    // "pid (comm) state ppid ..." where comm may hold spaces and parentheses.
    const auto close = text.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(text.substr(close + 1));
    ProcStat stat;
    std::string skip;
    fields >> stat.state >> stat.ppid;
    // Fields 5..21, then 22 = starttime.
    for (int field = 5; field <= 21; ++field) fields >> skip;
    fields >> stat.start_time;
    if (!fields) return std::nullopt;
    return stat;
}

std::vector<std::string> read_cmdline(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::vector<std::string> args;
    std::string arg;
    while (std::getline(in, arg, '\0')) args.push_back(arg);
    return args;
}

bool has_pair(const std::vector<std::string>& args, const std::string& name, const std::string& value) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == name && args[i + 1] == value) return true;
    }
    for (const auto& arg : args) {
        if (arg == name + "=" + value) return true;
    }
    return false;
}

// HTTP workers and compute processes alike: every child the supervisor runs.
// A worker: clusterd in a child role, or (exec mode, `-- COMMAND`) whatever
// program the exec shim became; a child that is clusterd without a role is a
// new supervisor of a binary upgrade, not a worker.
bool is_worker_cmdline(const std::vector<std::string>& args) {
    // The fork server (--fork-server) serves nothing: not a worker, whatever the binary.
    if (has_pair(args, "--role", "forkserver")) return false;
    if (has_pair(args, "--role", "worker") || has_pair(args, "--role", "compute") || has_pair(args, "--role", "exec")) {
        return true;
    }
    return !args.empty() && std::filesystem::path(args.front()).filename() != "clusterd";
}

std::vector<pid_t> all_pids() {
    std::vector<pid_t> pids;
    DIR* dir = opendir("/proc");
    if (dir == nullptr) return pids;
    while (dirent* entry = readdir(dir)) {
        char* end = nullptr;
        const long value = std::strtol(entry->d_name, &end, 10);
        if (end != entry->d_name && *end == '\0' && value > 0) pids.push_back(static_cast<pid_t>(value));
    }
    closedir(dir);
    return pids;
}

// Threads of the process still running. A thread-group leader shows 'Z' in
// /proc/<pid>/stat as soon as its own thread has exited, while the other
// threads (a worker's compute pool) may still be tearing down and hold the
// descriptor table, the listening socket included.
std::size_t live_threads(pid_t pid) { return proc_entries(pid, "task"); }

// Gone: no such process, a different process under a recycled pid, or a
// zombie with no thread left (reaped here when it is ours, which it is once
// reparented to us).
bool gone(const ProcessId& id) {
    auto stat = read_stat(id.pid);
    if (!stat || stat->start_time != id.start_time) return true;
    if ((stat->state == 'Z' || stat->state == 'X') && live_threads(id.pid) <= 1) {
        if (stat->ppid == getpid()) waitpid(id.pid, nullptr, WNOHANG);
        return true;
    }
    return false;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string temp_dir() {
    const char* dir = std::getenv("TMPDIR");
    return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& extra) {
    std::vector<std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        // The test's own CLUSTERD_* would silently change the daemon under test.
        if (std::strncmp(*entry, "CLUSTERD_", 9) == 0) continue;
        env.emplace_back(*entry);
    }
    // Tests run as root on CI machines; clusterd refuses root workers unless
    // told. A test that means to check that refusal sets the variable itself.
    const bool sets_allow_root = std::any_of(extra.begin(), extra.end(),
                                             [](const auto& pair) { return pair.first == "CLUSTERD_ALLOW_ROOT"; });
    if (::geteuid() == 0 && !sets_allow_root) env.emplace_back("CLUSTERD_ALLOW_ROOT=true");
    for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (auto& text : strings) pointers.push_back(text.data());
    pointers.push_back(nullptr);
    return pointers;
}

// fork + exec with stdout and stderr on log_fd, stdin on /dev/null, default
// signal dispositions, an empty signal mask, no other inherited descriptor,
// and PR_SET_PDEATHSIG so the child dies with the test. Returns the pid.
pid_t start_process(std::vector<std::string> argv, std::vector<std::string> env, int log_fd) {
    auto argv_c = c_strings(argv);
    auto env_c = c_strings(env);
    const pid_t parent = getpid();
    const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) throw std::runtime_error(std::string("open(/dev/null): ") + std::strerror(errno));
    const pid_t pid = fork();
    if (pid < 0) {
        close(devnull);
        throw std::runtime_error(std::string("fork(): ") + std::strerror(errno));
    }
    if (pid == 0) {
        // Only async-signal-safe calls from here on.
        setpgid(0, 0);  // the test, not a terminal's Ctrl-C, decides which signals it gets
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        dup2(devnull, STDIN_FILENO);
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        syscall(SYS_close_range, 3U, ~0U, 0U);
        const rlimit no_core{0, 0};  // crash tests must not litter core files
        setrlimit(RLIMIT_CORE, &no_core);
        for (int signal = 1; signal < NSIG; ++signal) {
            if (signal != SIGKILL && signal != SIGSTOP) ::signal(signal, SIG_DFL);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        execve(argv_c[0], argv_c.data(), env_c.data());
        _exit(127);
    }
    close(devnull);
    return pid;
}

std::string make_log_file(int& fd) {
    std::string path = temp_dir() + "/clusterd-test-XXXXXX.log";
    fd = mkstemps(path.data(), 4);
    if (fd < 0) throw std::runtime_error("mkstemps(" + path + "): " + std::strerror(errno));
    // Supervisor and workers all write to it: append, never overwrite each other.
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_APPEND);
    return path;
}

// The binary under test: the one this suite was built with, unless
// CLUSTERD_TEST_BINARY names another (a sanitizer build, a patched copy).
std::string binary() {
    const char* other = std::getenv("CLUSTERD_TEST_BINARY");
    return other != nullptr && *other != '\0' ? other : CLUSTERD_BINARY;
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
}

// The inode of the first /proc/net/tcp entry with these ports and state
// ("0A" = LISTEN, empty = any); empty when there is none.
std::string tcp_inode(unsigned long local_port, unsigned long remote_port, const std::string& state) {
    std::ifstream table("/proc/net/tcp");
    std::string line;
    std::getline(table, line);  // header
    while (std::getline(table, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, st, queues, timer, retransmits, uid, timeout, inode;
        fields >> slot >> local >> remote >> st >> queues >> timer >> retransmits >> uid >> timeout >> inode;
        const auto port_of = [](const std::string& address) {
            const auto colon = address.find(':');
            return colon == std::string::npos ? 0UL : std::stoul(address.substr(colon + 1), nullptr, 16);
        };
        if (fields && port_of(local) == local_port && port_of(remote) == remote_port && inode != "0" &&
            (state.empty() || st == state)) {
            return inode;
        }
    }
    return "";
}

bool holds_socket(pid_t pid, const std::string& inode) {
    const std::string target = "socket:[" + inode + "]";
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* fds = opendir(dir.c_str());
    if (fds == nullptr) return false;
    bool found = false;
    while (dirent* entry = readdir(fds)) {
        char link[128];
        const ssize_t n = readlink((dir + "/" + entry->d_name).c_str(), link, sizeof link - 1);
        if (n > 0 && std::string(link, static_cast<std::size_t>(n)) == target) found = true;
    }
    closedir(fds);
    return found;
}

}  // namespace

ExitStatus ExitStatus::from_wait_status(int status) {
    ExitStatus result;
    if (WIFEXITED(status)) {
        result.exited = true;
        result.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.signaled = true;
        result.signal = WTERMSIG(status);
    }
    return result;
}

std::string ExitStatus::to_string() const {
    if (exited) return "exited with code " + std::to_string(code);
    if (signaled) return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
    return "unknown status";
}

bool threads_model() {
    const char* model = std::getenv("CLUSTERD_TEST_MODEL");
    return model != nullptr && std::string_view(model) == "threads";
}

std::vector<std::string> model_args() {
    if (threads_model()) return {"--model", "threads"};
    return {};
}

unsigned worker_processes(unsigned workers) { return threads_model() ? 1 : workers; }


std::size_t proc_entries(pid_t pid, const std::string& what) {
    std::size_t count = 0;
    DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/" + what).c_str());
    if (dir == nullptr) return 0;
    while (dirent* entry = readdir(dir)) {
        if (entry->d_name[0] != '.') ++count;
    }
    closedir(dir);
    return count;
}

bool process_alive(pid_t pid) {
    auto stat = read_stat(pid);
    return stat && stat->state != 'Z' && stat->state != 'X';
}

Daemon::Daemon(DaemonOptions options) {
    // Workers orphaned by a supervisor we kill are reparented to us, and we
    // reap them, instead of leaving zombies to whatever PID 1 is.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    shm_names_before_ = clusterd_shm_names();
    spawn(options);
    try {
        if (options.wait_listening && !wait_for_port(startup_timeout)) {
            throw std::runtime_error("clusterd did not report 'listening on' within " +
                                     std::to_string(startup_timeout.count()) + " ms");
        }
        if (options.wait_ready && !wait_for_log(std::regex(R"(all \d+ workers ready)"), startup_timeout)) {
            throw std::runtime_error("clusterd did not report 'all N workers ready' within " +
                                     std::to_string(startup_timeout.count()) + " ms");
        }
    } catch (const std::runtime_error& error) {
        const std::string log = log_text();
        teardown(5s, true);
        throw std::runtime_error(std::string(error.what()) + "; its log:\n" + log);
    }
}

Daemon::~Daemon() {
    try {
        teardown(5s, true);
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
    }
}

void Daemon::spawn(const DaemonOptions& options) {
    int log_fd = -1;
    log_path_ = make_log_file(log_fd);
    std::vector<std::string> argv = options.launcher;
    argv.push_back(options.binary.empty() ? binary() : options.binary);
    if (options.add_listen) {
        argv.emplace_back("--listen");
        argv.emplace_back("127.0.0.1:0");
    }
    // The fixture's own options go before a `-- COMMAND` of the test's
    // (exec mode): everything after "--" is the program's.
    const auto command = std::find(options.args.begin(), options.args.end(), "--");
    argv.insert(argv.end(), options.args.begin(), command);
    for (auto& arg : model_args()) argv.push_back(std::move(arg));
    // Tests run side by side: each daemon gets its own control socket,
    // unless the test chooses one (or a name) itself.
    const bool named = std::any_of(options.args.begin(), command, [](const std::string& arg) {
        return arg.starts_with("--control-socket") || arg.starts_with("--name");
    });
    if (!named) {
        control_socket_ = log_path_ + ".sock";
        argv.emplace_back("--control-socket");
        argv.push_back(control_socket_);
    }
    argv.insert(argv.end(), command, options.args.end());
    try {
        pid_ = start_process(argv, child_environment(options.env), log_fd);
    } catch (...) {
        close(log_fd);
        throw;
    }
    close(log_fd);
}

bool Daemon::wait_for_port(Millis timeout) {
    static const std::regex listening(R"(listening on [^ ]*:(\d+))");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        std::smatch match;
        const std::string log = log_text();
        if (std::regex_search(log, match, listening)) {
            port_ = static_cast<std::uint16_t>(std::stoul(match[1].str()));
            listen_inode_ = tcp_inode(port_, 0, "0A");
            return true;
        }
        if (!running() || std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
}

std::string Daemon::log_text() const { return read_file(log_path_); }

std::vector<pid_t> Daemon::worker_pids() {
    std::vector<pid_t> workers;
    if (exit_) return workers;
    for (pid_t candidate : all_pids()) {
        auto stat = read_stat(candidate);
        if (!stat || stat->ppid != pid_ || stat->state == 'Z' || stat->state == 'X') continue;
        seen_workers_.insert({candidate, stat->start_time});
        if (is_worker_cmdline(read_cmdline(candidate))) workers.push_back(candidate);
    }
    std::sort(workers.begin(), workers.end());
    return workers;
}

std::vector<pid_t> Daemon::wait_for_workers(unsigned n, Millis timeout) {
    std::vector<pid_t> workers;
    const bool ok = eventually(
        [&] {
            workers = worker_pids();
            return workers.size() == n;
        },
        timeout);
    return ok ? workers : std::vector<pid_t>{};
}

bool Daemon::wait_for_replacement(const std::vector<pid_t>& before, unsigned n, Millis timeout) {
    return eventually(
        [&] {
            const auto now = worker_pids();
            return now.size() == n && now != before;
        },
        timeout);
}

unsigned Daemon::count_log(const std::string& substring) const {
    unsigned count = 0;
    for (const auto& line : split_lines(log_text())) {
        if (line.find(substring) != std::string::npos) ++count;
    }
    return count;
}

unsigned Daemon::count_log(const std::regex& pattern) const {
    unsigned count = 0;
    for (const auto& line : split_lines(log_text())) {
        if (std::regex_search(line, pattern)) ++count;
    }
    return count;
}

bool Daemon::wait_for_log(const std::string& substring, Millis timeout, unsigned count) const {
    return eventually([&] { return count_log(substring) >= count; }, timeout);
}

bool Daemon::wait_for_log(const std::regex& pattern, Millis timeout, unsigned count) const {
    return eventually([&] { return count_log(pattern) >= count; }, timeout);
}

std::optional<std::vector<std::string>> Daemon::wait_for_log_match(const std::regex& pattern, Millis timeout) const {
    std::optional<std::vector<std::string>> groups;
    eventually(
        [&] {
            for (const auto& line : split_lines(log_text())) {
                std::smatch match;
                if (std::regex_search(line, match, pattern)) {
                    groups.emplace();
                    for (std::size_t i = 1; i < match.size(); ++i) groups->push_back(match[i].str());
                    return true;
                }
            }
            return false;
        },
        timeout);
    return groups;
}

std::optional<pid_t> Daemon::worker_serving(std::uint16_t client_port) {
    // The server side of the connection: local port = the one we listen on,
    // remote port = the client's; then which worker holds that socket.
    const std::string inode = tcp_inode(port_, client_port, "");
    if (inode.empty()) return std::nullopt;
    for (pid_t worker : worker_pids()) {
        if (holds_socket(worker, inode)) return worker;
    }
    return std::nullopt;
}

bool Daemon::holds_listener(pid_t pid) const { return !listen_inode_.empty() && holds_socket(pid, listen_inode_); }

bool Daemon::send_signal(int signal) {
    if (exit_ || pid_ <= 0) return false;
    return ::kill(pid_, signal) == 0;
}

void Daemon::remember_workers() {
    // Called while the supervisor is a zombie at the latest: its pid cannot
    // have been recycled, so "--supervisor-pid <pid>" names only its workers,
    // including ones already reparented.
    const std::string supervisor = std::to_string(pid_);
    for (pid_t candidate : all_pids()) {
        auto stat = read_stat(candidate);
        if (!stat || stat->state == 'Z' || stat->state == 'X') continue;
        const auto args = read_cmdline(candidate);
        if (stat->ppid == pid_ || (is_worker_cmdline(args) && has_pair(args, "--supervisor-pid", supervisor))) {
            seen_workers_.insert({candidate, stat->start_time});
        }
    }
}

bool Daemon::reap(bool block) {
    if (exit_) return true;
    if (pid_ <= 0) return false;
    siginfo_t info{};
    const int flags = WEXITED | WNOWAIT | (block ? 0 : WNOHANG);
    int rc;
    do {
        rc = waitid(P_PID, static_cast<id_t>(pid_), &info, flags);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0 || info.si_pid == 0) return false;
    remember_workers();
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_ = ExitStatus::from_wait_status(status);
    return true;
}

bool Daemon::running() { return !reap(false); }

std::optional<ExitStatus> Daemon::wait_exit(Millis timeout) {
    if (eventually([&] { return reap(false); }, timeout, 10ms)) return exit_;
    return std::nullopt;
}

bool Daemon::stop_and_check_clean(Millis grace) {
    teardown(grace, false);
    return failure_.empty();
}

void Daemon::teardown(Millis grace, bool quiet) {
    if (pid_ <= 0) return;
    if (!exit_) {
        remember_workers();
        ::kill(pid_, SIGKILL);
        reap(true);
        if (!control_socket_.empty()) ::unlink(control_socket_.c_str());
    }
    // The segment is two memfds: however the supervisor ended (SIGKILL
    // included), nothing of it may be in /dev/shm. Names that were there
    // before it started (another test's, or planted on purpose) are not its.
    const std::string own = "clusterd." + std::to_string(pid_);
    for (const auto& name : clusterd_shm_names()) {
        if (shm_names_before_.count(name) != 0 || name != own) continue;
        if (failure_.empty()) failure_ = "the supervisor left /dev/shm/" + name + " behind";
        ::unlink(("/dev/shm/" + name).c_str());
    }
    if (!torn_down_) {
        torn_down_ = true;
        const bool clean = eventually(
            [&] {
                for (const auto& id : seen_workers_) {
                    if (!gone(id)) return false;
                }
                return true;
            },
            grace);
        if (!clean) {
            std::string stragglers;
            for (const auto& id : seen_workers_) {
                if (gone(id)) continue;
                stragglers += " " + std::to_string(id.pid);
                ::kill(id.pid, SIGKILL);
            }
            failure_ = "worker(s)" + stragglers + " still alive " + std::to_string(grace.count()) +
                       " ms after the supervisor exited; killed them";
            std::cerr << "clusterd test: " << failure_ << "\n";
            eventually(
                [&] {
                    for (const auto& id : seen_workers_) {
                        if (!gone(id)) return false;
                    }
                    return true;
                },
                5s);
        }
    }
    if (quiet) {
        // The destructor: keep and show the log of a failed test, drop a passing one's.
        if (current_test_failed || std::uncaught_exceptions() > 0 || !failure_.empty()) {
            std::cerr << "---- clusterd log (" << log_path_ << ") ----\n" << log_text() << "---- end of log ----\n";
        } else if (!log_path_.empty()) {
            std::remove(log_path_.c_str());
        }
        log_path_.clear();
    }
}

std::optional<RunResult> run_clusterd(const std::vector<std::string>& args,
                                      const std::vector<std::pair<std::string, std::string>>& env, Millis timeout,
                                      const std::vector<std::string>& launcher) {
    int log_fd = -1;
    const std::string path = make_log_file(log_fd);
    std::vector<std::string> argv = launcher;
    argv.push_back(binary());
    argv.insert(argv.end(), args.begin(), args.end());
    pid_t pid = -1;
    try {
        pid = start_process(argv, child_environment(env), log_fd);
    } catch (...) {
        close(log_fd);
        std::remove(path.c_str());
        throw;
    }
    close(log_fd);
    int status = 0;
    const bool done = eventually(
        [&] {
            const pid_t rc = waitpid(pid, &status, WNOHANG);
            return rc == pid || (rc < 0 && errno != EINTR);
        },
        timeout, 10ms);
    if (!done) {
        ::kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    RunResult result{ExitStatus::from_wait_status(status), read_file(path)};
    std::remove(path.c_str());
    if (!done) return std::nullopt;
    return result;
}

}  // namespace clusterd::test
