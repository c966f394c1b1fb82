// The one immutable Config every process reads, from the command line and
// CLUSTERD_<NAME> environment variables (the command line wins).
//
// A worker is the same binary started by the supervisor with the supervisor's
// own arguments plus the hidden --role/--slot/--generation/--supervisor-pid,
// so both roles always parse the same options the same way.
#pragma once

#include <spdlog/common.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/units.hpp"

namespace clusterd {

// status: `clusterd status`, which reads a running instance's segment and exits.
// compute: a compute process (--compute=processes), started by the supervisor.
// reload, upgrade: `clusterd reload|upgrade`, which signal a running instance.
enum class Role { supervisor, worker, compute, status, reload, upgrade };

// Where the application's tasks run (worker/compute/): on the event loop, on a pool of
// threads in each worker, or in compute processes fed through the job ring.
enum class ComputeMode { inline_loop, threads, processes };
[[nodiscard]] const char* to_string(ComputeMode mode);

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
};

struct Config {
    Role role = Role::supervisor;
    ListenAddress listen;
    unsigned workers = 1;  // default: CPU count, set by parse_config; event loops in all
    ServingModel model = ServingModel::processes;

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

    // HTTP limits, per worker.
    Millis header_timeout{10'000};
    Millis idle_timeout{5'000};
    unsigned max_connections = 1024;
    std::uint64_t max_header_size = 8 * 1024;
    std::uint64_t max_body_size = 1024 * 1024;

    // Compute offload (worker/compute/).
    ComputeMode compute = ComputeMode::threads;
    unsigned compute_threads = 1;    // per worker; default: CPU count, set by parse_config
    unsigned compute_processes = 1;  // default: CPU count, set by parse_config
    unsigned compute_queue = 64;     // waiting jobs: per worker (inline, threads) or per cluster (processes)
    Millis compute_timeout{10'000};  // a job not finished by then is answered 504
    std::uint64_t task_max_input = 64 * 1024;   // bytes into a task (else 413); sizes the job ring's payload area
    std::uint64_t task_max_output = 64 * 1024;  // bytes out of a task (else 502)

    // Privileges: as root, every process runs as --user (and --group) once
    // the socket is bound; workers as root only with --allow-root.
    std::string user;
    std::string group;
    bool allow_root = false;

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

    // Worker role only, set by the supervisor.
    unsigned slot = 0;
    std::uint64_t generation = 0;
    pid_t supervisor_pid = 0;
    unsigned listen_fds = 1;  // listening sockets inherited: fd 3, then fds 8, 9, ...

    // Status role only.
    pid_t status_pid = 0;  // 0: the one running instance
    bool status_json = false;

    // The arguments as given (without argv[0]); the supervisor hands them on to
    // every worker so both roles see the same configuration.
    std::vector<std::string> args;
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
