// A real clusterd under test: started from the built binary (or the one
// named by CLUSTERD_TEST_BINARY) with
// `--listen 127.0.0.1:0` plus the test's arguments, its stderr and stdout in a
// per-test log file, and torn down so that no process outlives the test.
//
//   Daemon daemon({"--workers", "2"});
//   HttpClient client(daemon.port());
//   ...
//   CHECK(daemon.stop_and_check_clean());
//
// The constructor waits (bounded) for "listening on" and, unless told not to,
// for "all N workers ready"; it throws std::runtime_error (after cleaning up)
// when the daemon does not get there, so a test never runs against half a
// cluster by accident.
//
// Teardown: stop_and_check_clean() SIGKILLs the supervisor if it still runs,
// reaps it, and checks that every worker it ever had is gone within a few
// seconds (PR_SET_PDEATHSIG), SIGKILLing stragglers; it returns false (with
// the reason in failure()) if any worker had to be killed by us. The
// destructor does the same silently. Workers are identified by (pid, start
// time), so a recycled pid is never mistaken for one of ours.
//
// The supervisor itself is started with PR_SET_PDEATHSIG(SIGKILL) too: a test
// process killed by ctest's timeout takes its daemon with it.
//
// The serving model: with CLUSTERD_TEST_MODEL=threads in the test's
// environment every Daemon runs with `--model threads` appended
// (tests/CMakeLists.txt registers the integration suite a second time so).
// A test that counts worker processes asks worker_processes(n) how many
// --workers n makes in the model under test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace clusterd::test {

using Millis = std::chrono::milliseconds;
using namespace std::chrono_literals;

// How long startup may take on a loaded machine before a test gives up.
inline constexpr Millis startup_timeout = 15s;

struct DaemonOptions {
    std::vector<std::string> args;                            // after --listen 127.0.0.1:0
    std::vector<std::pair<std::string, std::string>> env;    // extra environment (CLUSTERD_* of the test's own are removed)
    bool add_listen = true;                                  // false: the test passes its own --listen
    bool wait_listening = true;                              // wait for "listening on" in the constructor
    bool wait_ready = true;                                  // wait for "all N workers ready" in the constructor
    // Runs `launcher... clusterd args...` instead, for a launcher that execs
    // clusterd in its own process (systemd-socket-activate): the pid is the same.
    std::vector<std::string> launcher;
    // Another application binary on the clusterd library instead of the stock one.
    std::string binary = {};
};

struct ExitStatus {
    bool exited = false;  // exited normally; code is valid
    int code = -1;
    bool signaled = false;  // killed by a signal
    int signal = 0;

    static ExitStatus from_wait_status(int status);
    [[nodiscard]] bool clean() const { return exited && code == 0; }
    [[nodiscard]] std::string to_string() const;  // "exited with code 0", "killed by signal 9 (Killed)"
};

// A process identity that survives pid reuse.
struct ProcessId {
    pid_t pid = 0;
    unsigned long long start_time = 0;  // /proc/<pid>/stat field 22
    auto operator<=>(const ProcessId&) const = default;
};

class Daemon {
public:
    explicit Daemon(DaemonOptions options);
    // Shorthand: Daemon({"--workers", "2"}).
    explicit Daemon(std::vector<std::string> args) : Daemon(DaemonOptions{std::move(args), {}, true, true, true, {}}) {}
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] const std::string& log_path() const { return log_path_; }
    // Its --control-socket (every Daemon gets its own unless its arguments
    // name one, or a --name); empty then.
    [[nodiscard]] const std::string& control_socket() const { return control_socket_; }
    [[nodiscard]] std::string log_text() const;

    // Live (not zombie) worker processes (HTTP workers and compute processes)
    // whose parent is the supervisor, sorted.
    // Every pid seen here is remembered for the teardown check.
    [[nodiscard]] std::vector<pid_t> worker_pids();

    // Waits until the supervisor has exactly n live worker children and returns
    // them; empty on timeout.
    [[nodiscard]] std::vector<pid_t> wait_for_workers(unsigned n, Millis timeout = startup_timeout);
    // Waits until there are again n workers and they are not exactly `before`
    // (one or more were replaced); false on timeout.
    [[nodiscard]] bool wait_for_replacement(const std::vector<pid_t>& before, unsigned n, Millis timeout = startup_timeout);

    // Waits until at least `count` log lines contain substring (or match the
    // regex, searched per line). True when they do within timeout.
    [[nodiscard]] bool wait_for_log(const std::string& substring, Millis timeout = startup_timeout,
                                    unsigned count = 1) const;
    [[nodiscard]] bool wait_for_log(const std::regex& pattern, Millis timeout = startup_timeout,
                                    unsigned count = 1) const;
    [[nodiscard]] unsigned count_log(const std::string& substring) const;
    [[nodiscard]] unsigned count_log(const std::regex& pattern) const;
    // The first sub-match of the first line matching pattern, waiting for it; empty on timeout.
    [[nodiscard]] std::optional<std::vector<std::string>> wait_for_log_match(const std::regex& pattern,
                                                                             Millis timeout = startup_timeout) const;

    // The worker that holds the server side of a client connection, given the
    // client's local port (RawConnection::local_port()); empty if none does.
    [[nodiscard]] std::optional<pid_t> worker_serving(std::uint16_t client_port);

    // Whether process pid holds the listening socket. A worker that begins
    // draining closes it, so this turning false is a log-independent sign
    // that the worker is draining.
    [[nodiscard]] bool holds_listener(pid_t pid) const;

    // kill(2) on the supervisor; false if it is already reaped.
    bool send_signal(int signal);
    // True while the supervisor has not exited.
    [[nodiscard]] bool running();
    // Waits for the supervisor to exit and reaps it; empty on timeout (it keeps running).
    [[nodiscard]] std::optional<ExitStatus> wait_exit(Millis timeout);
    // The status once reaped.
    [[nodiscard]] const std::optional<ExitStatus>& exit_status() const { return exit_; }

    // SIGKILLs the supervisor if it still runs, reaps it, then waits up to
    // `grace` for every worker to be gone. False if any had to be killed by
    // us (the reason is in failure()). Idempotent.
    [[nodiscard]] bool stop_and_check_clean(Millis grace = 5s);
    // Like stop_and_check_clean, for a supervisor that already exited on its own.
    [[nodiscard]] bool no_worker_left(Millis grace = 5s) { return stop_and_check_clean(grace); }
    [[nodiscard]] const std::string& failure() const { return failure_; }

private:
    void spawn(const DaemonOptions& options);
    bool wait_for_port(Millis timeout);
    void remember_workers();
    bool reap(bool block);
    void teardown(Millis grace, bool quiet);

    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    std::string listen_inode_;  // of the listening socket, once known
    std::string log_path_;
    std::string control_socket_;
    std::optional<ExitStatus> exit_;
    std::set<ProcessId> seen_workers_;
    std::set<std::string> shm_names_before_;  // /dev/shm/clusterd* before the start
    bool torn_down_ = false;
    std::string failure_;
};

// Runs clusterd to completion (a bad option, --help) and returns its exit
// status and everything it wrote on stdout and stderr. Empty on timeout (the
// process is killed then).
struct RunResult {
    ExitStatus status;
    std::string output;
};
[[nodiscard]] std::optional<RunResult> run_clusterd(const std::vector<std::string>& args,
                                                    const std::vector<std::pair<std::string, std::string>>& env = {},
                                                    Millis timeout = startup_timeout,
                                                    const std::vector<std::string>& launcher = {});

// The serving model under test (CLUSTERD_TEST_MODEL=threads), and the
// arguments that select it; empty for the default, processes.
[[nodiscard]] bool threads_model();
[[nodiscard]] std::vector<std::string> model_args();
// HTTP worker processes that --workers n runs in the model under test: n, or
// one process of n event loops.
[[nodiscard]] unsigned worker_processes(unsigned workers);

// Whether a process is alive (exists and is not a zombie).
[[nodiscard]] bool process_alive(pid_t pid);

// Entries of /proc/<pid>/<what>: "fd" for open descriptors, "task" for
// threads; 0 once the process is gone.
[[nodiscard]] std::size_t proc_entries(pid_t pid, const std::string& what);

// Sleeps in small steps until predicate() holds or timeout passes; returns predicate's last value.
template <typename Predicate>
bool eventually(Predicate predicate, Millis timeout, Millis step = 20ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (predicate()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(step);
    }
}

}  // namespace clusterd::test
