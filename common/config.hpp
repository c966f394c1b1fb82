// The one immutable Config every process reads. The supervisor (and the
// command-line tools) parse it from the command line, CLUSTERD_<NAME>
// environment variables and the --config file (the command line wins, then
// the environment); an unknown option, file key or CLUSTERD_* variable is an
// error naming it.
//
// A child (worker, compute process) parses none of those: it gets the
// configuration the supervisor accepted (Config::accepted, every value as
// the supervisor resolved it, common/config_image.hpp) and its contract
// arguments (common/child_contract.hpp).
#pragma once

#include <spdlog/common.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/units.hpp"

namespace clusterd {

// compute: a compute process (--compute=processes), started by the supervisor.
// status, reload, upgrade, stop, scale: `clusterd status|reload|upgrade|stop|
// scale N`, which ask a running instance over its control socket and exit.
enum class Role { supervisor, worker, compute, admin, status, reload, upgrade, stop, scale };

// Where the application's tasks run (worker/compute/): on the event loop, on a pool of
// threads in each worker, or in compute processes fed through the job ring.
enum class ComputeMode { inline_loop, threads, processes };
[[nodiscard]] const char* to_string(ComputeMode mode);

// How compute threads and processes give way to the event loops
// (--compute-policy, worker/compute/scheduling.hpp): the Linux scheduling
// policy each compute thread (and each compute process) sets on itself.
enum class ComputePolicy { batch, idle, other };
[[nodiscard]] const char* to_string(ComputePolicy policy);

// How HTTP is served (--model): processes, N worker processes with one event
// loop each; threads, one worker process running N event-loop threads that
// all accept on the shared socket (a crash of that process takes all N).
enum class ServingModel { processes, threads };
[[nodiscard]] const char* to_string(ServingModel model);

// The largest --task-max-input / --task-max-output (common/job_ring.hpp's job_payload_max).
inline constexpr std::uint64_t task_payload_limit = 64u * 1024 * 1024;

struct ListenAddress {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    bool operator==(const ListenAddress&) const = default;
};

struct Config {
    Role role = Role::supervisor;
    ListenAddress listen;
    // --admin-listen: /metrics, /status, /healthz and /readyz for the whole
    // cluster from one small native worker process on its own socket (the
    // admin worker, supervisor/admin_worker.hpp); none when unset.
    std::optional<ListenAddress> admin_listen;
    bool admin_only_metrics = false;  // /metrics and /status on the admin listener only, not the public port
    unsigned workers = 1;  // default: CPU count, set by parse_config; event loops in all
    // The CPUs the defaults were computed from (affinity mask within the cgroup
    // quota), in the supervisor; a child reads only what it was given, and has 0 here.
    unsigned cpus = 0;
    ServingModel model = ServingModel::processes;
    // Hot spares: worker processes started, initialised and ready but not
    // accepting, promoted at once when a serving one dies or is replaced.
    unsigned spares = 0;
    // X-Clusterd-Worker: <slot>-<generation> on every response (off by default).
    bool worker_id_header = false;
    // --fork-server: HTTP workers start by fork from a prepared process, not
    // by fork+exec (worker/fork_server.hpp).
    bool fork_server = false;

    // Restart policy (see supervisor/restart_policy.hpp).
    Millis min_uptime{1000};
    Millis backoff_initial{100};
    Millis backoff_max{30'000};
    unsigned breaker_deaths = 5;
    Millis breaker_window{30'000};
    Millis breaker_cooldown{60'000};

    // A worker whose loop shows no progress for this long is killed and replaced; 0 disables.
    Millis hang_timeout{10'000};
    bool core_on_hang = false;  // SIGABRT a hung worker first (a core to inspect), SIGKILL a second later

    // Stopping.
    Millis shutdown_timeout{10'000};
    Millis drain_quiet{250};
    Millis drain_delay{0};  // on SIGTERM: /readyz fails for this long while serving goes on, then the drain

    // HTTP limits, per worker.
    Millis header_timeout{10'000};
    Millis idle_timeout{5'000};
    Millis send_timeout{10'000};  // a closing connection whose peer takes none of our responses
    unsigned max_connections = 1024;
    std::uint64_t max_header_size = 8 * 1024;
    std::uint64_t max_body_size = 1024 * 1024;

    // Compute offload (worker/compute/).
    ComputeMode compute = ComputeMode::threads;
    unsigned compute_threads = 1;    // per event loop; default: cpus / workers, at least 1 (executor_counts.hpp)
    unsigned compute_processes = 1;  // default: cpus, set by parse_config
    ComputePolicy compute_policy = ComputePolicy::batch;  // of every compute thread and process
    int compute_nice = 0;            // and the nice value they take on top (0..19)
    unsigned compute_queue = 64;     // waiting jobs: per worker (inline, threads) or per cluster (processes)
    Millis compute_timeout{10'000};  // a job not finished by then is answered 504
    std::uint64_t task_max_input = 64 * 1024;   // bytes into a task (else 413); sizes the job ring's payload area
    std::uint64_t task_max_output = 64 * 1024;  // bytes out of a task (else 502)

    // Privileges: as root with --user, the supervisor keeps root and every
    // process it starts becomes --user (and --group), with no new privileges,
    // no capabilities and (unless core_dumps) not dumpable; workers as root
    // only with --allow-root.
    std::string user;
    std::string group;
    bool allow_root = false;
    bool core_dumps = false;  // children stay dumpable (cores, ptrace by their uid); --core-on-hang implies it

    bool fault_injection = false;
    bool scoreboard_counters = true;  // off only to measure what the scoreboard costs (bench/scoreboard_cost.sh)
    bool crash_at_start = false;  // fault injection: every worker dies while booting
    std::uint64_t crash_after_requests = 0;  // fault injection: a worker aborts after this many responses; 0: never

    // Resource limits: a worker past one is replaced gracefully (successor first, then drained).
    std::uint64_t max_requests = 0;         // responses per worker; 0: no limit
    std::uint64_t max_requests_jitter = 0;  // plus a random 0..jitter per worker, so they do not all leave at once
    std::uint64_t max_worker_memory = 0;    // RSS bytes, checked by the supervisor; 0: no limit
    spdlog::level::level_enum log_level = spdlog::level::info;
    std::string log_file;  // empty: stderr (the journal under systemd)

    // Exec mode (`clusterd [OPTIONS] -- COMMAND [ARGS...]`, `exec = [...]` in
    // the file): every worker slot runs COMMAND through the exec shim
    // (supervisor/exec_shim.hpp) instead of this binary's own HTTP worker.
    std::vector<std::string> exec;
    Millis ready_delay{0};         // --ready=delay:D: ready after D alive; 0: --ready=notify (READY=1)
    int stop_signal = 15;          // --stop-signal: what tells the program to finish and exit (SIGTERM)
    Millis start_timeout{60'000};  // not ready by then: killed, counted as a failed start
    [[nodiscard]] bool exec_mode() const { return !exec.empty(); }

    // Worker role only, set by the supervisor.
    unsigned slot = 0;
    std::uint64_t generation = 0;
    pid_t supervisor_pid = 0;
    unsigned listen_fds = 1;  // listening sockets inherited: fd 3, then fds 8, 9, ...
    int shm_header_fd = -1;   // the segment's descriptors (common/child_contract.hpp)
    int shm_body_fd = -1;
    bool spare_start = false;  // started as a hot spare: accept only once the supervisor promotes it

    // The instance: its name, and its control socket (empty: the default path
    // for the name, see supervisor/control_socket.hpp).
    std::string name = "clusterd";
    std::string control_socket;

    // The command roles only.
    bool status_json = false;
    bool no_wait = false;     // reload, upgrade, stop: return once the instance took the command
    unsigned scale_to = 0;    // scale

    // The arguments as given (without argv[0]): a reload parses them again,
    // with the environment and the --config file; a binary upgrade hands them on.
    std::vector<std::string> args;
    // The configuration as accepted, every value as resolved (encode_config,
    // common/config_image.hpp); what the supervisor gives its children, which
    // read nothing else.
    std::string accepted;

    bool operator==(const Config&) const = default;
};

// parse_config's answer when the process should exit instead of running:
// --help (code 0, text on stdout) or a bad option (code 2, message on stderr).
struct ExitRequest {
    int code;
    std::string text;
};

[[nodiscard]] std::variant<Config, ExitRequest> parse_config(int argc, const char* const* argv);

// "127.0.0.1:8080", "[::1]:0", "localhost:80" → host and port; empty on error.
[[nodiscard]] std::variant<ListenAddress, std::string> parse_listen_address(std::string_view text);

}  // namespace clusterd
