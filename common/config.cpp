#include "common/config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/config_image.hpp"
#include "common/cpu_quota.hpp"
#include "common/executor_counts.hpp"

#include <uv.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>

#include "common/child_contract.hpp"

extern char** environ;

namespace clusterd {
namespace {

// "--shutdown-timeout" → "CLUSTERD_SHUTDOWN_TIMEOUT"
std::string env_name(std::string_view option) {
    std::string name = "CLUSTERD_";
    for (char c : option.substr(2)) {
        name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return name;
}

CLI::Option* add_duration(CLI::App& app, const std::string& name, Millis& target,
                          const std::string& help) {
    CLI::Validator is_duration(
        [](std::string& text) -> std::string {
            return parse_duration(text) ? "" : "'" + text + "' is not a duration (e.g. 250ms, 10s, 2m)";
        },
        "DURATION");
    return app
        .add_option_function<std::string>(
            name, [&target](const std::string& text) { target = *parse_duration(text); }, help)
        ->check(is_duration)
        ->default_str(format_duration(target));
}

CLI::Option* add_byte_size(CLI::App& app, const std::string& name, std::uint64_t& target,
                           const std::string& help) {
    CLI::Validator is_size(
        [](std::string& text) -> std::string {
            auto size = parse_byte_size(text);
            if (!size) return "'" + text + "' is not a size (e.g. 8KiB, 1MiB)";
            return *size == 0 ? "must be larger than 0" : "";
        },
        "SIZE");
    return app
        .add_option_function<std::string>(
            name, [&target](const std::string& text) { target = *parse_byte_size(text); }, help)
        ->check(is_size)
        ->default_str(std::to_string(target));
}

template <typename T>
CLI::Option* add_number(CLI::App& app, const std::string& name, T& target, T min, T max,
                        const std::string& help) {
    return app.add_option(name, target, help)
        ->check(CLI::Range(min, max))
        ->capture_default_str();
}

// What the options write before it is turned into Config's types.
struct Texts {
    std::string listen = "127.0.0.1:8080";
    std::string admin_listen;  // empty: no admin listener
    std::string log_level = "info";
    std::string compute = "threads";
    std::string model = "processes";
    // A plain flag, not CLI11's "!--no-..." negation: that one serialises the
    // negated value under the flag's name and would read back inverted.
    bool no_scoreboard_counters = false;
    std::string ready = "notify";
    std::string stop_signal = "SIGTERM";
    std::string compute_threads = "auto";  // or a number; resolved by complete()
    std::string compute_policy = "batch";
};

constexpr std::pair<std::string_view, ComputePolicy> compute_policies[] = {
    {"batch", ComputePolicy::batch}, {"idle", ComputePolicy::idle}, {"other", ComputePolicy::other}};

// "auto" or 1..256: the error sentence, or nothing.
std::optional<unsigned> compute_thread_count(std::string_view text) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < 1 || value > 256) {
        return std::nullopt;
    }
    return value;
}

// The signals a program may be asked to stop with, by name.
constexpr std::pair<std::string_view, int> stop_signals[] = {
    {"SIGTERM", SIGTERM}, {"SIGINT", SIGINT}, {"SIGQUIT", SIGQUIT}, {"SIGHUP", SIGHUP},
    {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGWINCH", SIGWINCH}, {"SIGKILL", SIGKILL},
};

std::optional<int> stop_signal_number(std::string_view name) {
    const std::string full = name.starts_with("SIG") ? std::string(name) : "SIG" + std::string(name);
    for (const auto& [known, number] : stop_signals) {
        if (known == full) return number;
    }
    return std::nullopt;
}

// "notify", or "delay:DURATION": the error sentence, or nothing.
std::optional<Millis> ready_delay_of(std::string_view text) {
    if (text == "notify") return Millis{0};
    if (!text.starts_with("delay:")) return std::nullopt;
    const auto delay = parse_duration(text.substr(6));
    if (!delay || delay->count() <= 0) return std::nullopt;
    return delay;
}

// A command's program as execvp would find it: a path is checked as it is,
// a bare name on $PATH. The error sentence, or nothing when it can be run.
std::optional<std::string> unrunnable(const std::string& program) {
    auto check = [](const std::string& path) -> std::optional<std::string> {
        struct stat info{};
        if (::stat(path.c_str(), &info) != 0) return "'" + path + "': " + std::strerror(errno);
        if (!S_ISREG(info.st_mode)) return "'" + path + "' is not a regular file";
        if (::access(path.c_str(), X_OK) != 0) return "'" + path + "' is not executable: " + std::strerror(errno);
        return std::nullopt;
    };
    if (program.find('/') != std::string::npos) return check(program);
    const char* path = std::getenv("PATH");
    std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
    while (true) {
        const auto colon = dirs.find(':');
        const std::string dir(dirs.substr(0, colon));
        if (!check((dir.empty() ? "." : dir) + "/" + program)) return std::nullopt;
        if (colon == std::string_view::npos) break;
        dirs.remove_prefix(colon + 1);
    }
    return "'" + program + "' is not found on PATH";
}

// The configuration's options: the one table the command line, the
// environment, the --config file and the accepted configuration a child gets
// are all read through.
void add_options(CLI::App& app, Config& cfg, Texts& texts) {
    std::string& listen = texts.listen;
    std::string& compute = texts.compute;
    std::string& model = texts.model;
    std::string& log_level = texts.log_level;
    app.add_option("--listen", listen, "Address to listen on, HOST:PORT; port 0 picks a free port")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                auto parsed = parse_listen_address(text);
                auto* error = std::get_if<std::string>(&parsed);
                return error ? *error : "";
            },
            "HOST:PORT"));
    app.add_option("--admin-listen", texts.admin_listen,
                   "Also serve /metrics, /status, /healthz and /readyz for the whole cluster on this HOST:PORT, "
                   "from one small supervised admin worker (off by default; a program run with '--' serves no "
                   "metrics of its own)")
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                if (text.empty()) return "";
                auto parsed = parse_listen_address(text);
                auto* error = std::get_if<std::string>(&parsed);
                return error ? *error : "";
            },
            "HOST:PORT"));
    app.add_flag("--admin-only-metrics", cfg.admin_only_metrics,
                 "Serve /metrics and /status only on --admin-listen, not on the public port (they show pids "
                 "and the requests workers died on; without --admin-listen only 'clusterd status' shows them); "
                 "/healthz and /readyz stay on both");
    add_number(app, "--workers", cfg.workers, 1u, 1024u,
               "HTTP event loops: worker processes with --model=processes, threads of the one worker process "
               "with --model=threads (default: CPU count, bounded by the cgroup's CPU quota)");
    app.add_option("--model", model,
                   "Serving model: processes (--workers processes, one event loop each) or threads (one worker "
                   "process running --workers event-loop threads; a crash or hang of it restarts all of them)")
        ->capture_default_str()
        ->check(CLI::IsMember({"processes", "threads"}));

    add_number(app, "--spares", cfg.spares, 0u, 64u,
               "Hot spares: worker processes started, initialised and ready but not accepting; when a serving "
               "worker dies or is replaced, a spare takes over at once (no exec on that path) and a new spare "
               "starts behind it. Each costs one idle worker's memory (docs/OPERATING.md)");
    app.add_flag("--worker-id-header", cfg.worker_id_header,
                 "Name the worker on every response: X-Clusterd-Worker: <slot>-<generation> (off by default; "
                 "it tells clients which process answered)");
    app.add_flag("--fork-server", cfg.fork_server,
                 "Start HTTP workers by fork from a fork server (one process of this binary, exec'd once and "
                 "waiting) instead of fork+exec: a start skips loading the binary and the C library's start-up. "
                 "Workers then share the fork server's address layout and stack canary, so an address leaked "
                 "by one is valid in all (docs/SECURITY.md); off by default");

    add_duration(app, "--min-uptime", cfg.min_uptime,
                 "A worker that dies sooner than this after start is backed off, not respawned at once");
    add_duration(app, "--backoff-initial", cfg.backoff_initial, "First backoff delay for a worker that died young");
    add_duration(app, "--backoff-max", cfg.backoff_max, "Upper bound of the exponential backoff");
    add_number(app, "--breaker-deaths", cfg.breaker_deaths, 1u, 1000u,
               "Young deaths within --breaker-window that mark a slot failed");
    add_duration(app, "--breaker-window", cfg.breaker_window, "Window over which young deaths are counted");
    add_duration(app, "--breaker-cooldown", cfg.breaker_cooldown, "How long a failed slot rests before one retry");

    add_duration(app, "--hang-timeout", cfg.hang_timeout,
                 "A worker whose event loop makes no progress for this long is killed and replaced (0: never)");
    app.add_flag("--core-on-hang", cfg.core_on_hang,
                 "Send a hung worker SIGABRT first, so it leaves a core dump; SIGKILL follows a second later "
                 "(with --user it keeps the workers dumpable, as --core-dumps does)");
    add_duration(app, "--shutdown-timeout", cfg.shutdown_timeout,
                 "On SIGTERM/SIGINT, how long workers may finish in-flight requests before SIGKILL");
    add_duration(app, "--drain-delay", cfg.drain_delay,
                 "On SIGTERM/SIGINT, first answer /readyz 503 for this long while still accepting and serving "
                 "(a load balancer or Kubernetes removes the endpoint meanwhile), then drain");
    add_duration(app, "--drain-quiet", cfg.drain_quiet,
                 "While draining, an idle keep-alive connection is closed after this much silence");
    add_duration(app, "--header-timeout", cfg.header_timeout,
                 "A request must arrive whole within this time of its first byte (else 408)");
    add_duration(app, "--idle-timeout", cfg.idle_timeout, "An idle keep-alive connection is closed after this");
    add_duration(app, "--send-timeout", cfg.send_timeout,
                 "A connection closing with responses its peer has stopped reading is closed after this");
    add_number(app, "--max-connections", cfg.max_connections, 1u, 1'000'000u,
               "Open connections per worker; more are answered 503 and closed");
    add_byte_size(app, "--max-header-size", cfg.max_header_size, "Largest request head in bytes (else 431)");
    add_byte_size(app, "--max-body-size", cfg.max_body_size, "Largest request body in bytes (else 413)");

    app.add_option("--compute", compute,
                   "Where the application's tasks run: inline (on the event loop, blocking it), threads (a pool per worker) "
                   "or processes (compute processes fed through shared memory)")
        ->capture_default_str()
        ->check(CLI::IsMember({"inline", "threads", "processes"}));
    app.add_option("--compute-threads", texts.compute_threads,
                   "Threads per event loop with --compute=threads, 1 to 256; auto: the CPU count divided by "
                   "--workers, at least 1, so that all pools together run about one thread per CPU")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                return text == "auto" || compute_thread_count(text) ? "" : "must be auto or a number from 1 to 256";
            },
            "auto|N"));
    add_number(app, "--compute-processes", cfg.compute_processes, 1u, 256u,
               "Compute processes with --compute=processes, shared by every worker (default: CPU count)");
    app.add_option("--compute-policy", texts.compute_policy,
                   "How compute threads and processes give way to the event loops: batch (SCHED_BATCH, "
                   "the default), idle (SCHED_IDLE: run only on an otherwise idle CPU) or other (no change)")
        ->capture_default_str()
        ->check(CLI::IsMember({"batch", "idle", "other"}));
    add_number(app, "--compute-nice", cfg.compute_nice, 0, 19,
               "Nice value of compute threads and processes on top of --compute-policy (0: none)");
    add_number(app, "--compute-queue", cfg.compute_queue, 1u, 4096u,
               "Jobs that may wait for an executor (per worker; per cluster with processes); more get 503");
    add_duration(app, "--compute-timeout", cfg.compute_timeout,
                 "A job not finished by then is answered 504; its thread or process is dealt with");
    add_byte_size(app, "--task-max-input", cfg.task_max_input,
                  "Largest input of a task in bytes, for every executor (else 413); a task may set less");
    add_byte_size(app, "--task-max-output", cfg.task_max_output,
                  "Largest output of a task in bytes, for every executor (else 502); a task may set less");

    app.add_option("--user", cfg.user,
                   "Started as root: the supervisor keeps root (binds, reads the configuration, writes the log) and "
                   "runs every worker and compute process as this user (name or uid), with no capabilities, no new "
                   "privileges and not dumpable; use a dedicated user, not nobody");
    app.add_option("--group", cfg.group, "With --user: this group instead of the user's primary group");
    app.add_flag("--allow-root", cfg.allow_root,
                 "Let the workers run as root when started as root without --user (refused otherwise)");
    app.add_flag("--core-dumps", cfg.core_dumps,
                 "With --user: leave the workers dumpable, so they can dump core (and processes of their user can "
                 "ptrace them); --core-on-hang implies it");

    app.add_flag("--enable-fault-injection", cfg.fault_injection,
                 "Serve /debug/crash?mode=segv|abort|exit|hang|slow (never in production)");
    add_number(app, "--crash-after-requests", cfg.crash_after_requests, std::uint64_t{0},
               std::uint64_t{1'000'000'000}, "Fault injection: a worker aborts after this many responses (0: never)");
    add_number(app, "--max-requests", cfg.max_requests, std::uint64_t{0}, std::uint64_t{1'000'000'000'000},
               "Replace a worker gracefully after about this many responses (0: never)");
    add_number(app, "--max-requests-jitter", cfg.max_requests_jitter, std::uint64_t{0},
               std::uint64_t{1'000'000'000'000}, "Add a random 0..N to --max-requests per worker");
    app.add_option_function<std::string>(
           "--max-worker-memory", [&cfg](const std::string& text) {
               cfg.max_worker_memory = text == "0" ? 0 : *parse_byte_size(text);
           },
           "Replace a worker gracefully once its RSS is above this (e.g. 512MiB; 0: no limit)")
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                return parse_byte_size(text) || text == "0" ? "" : "'" + text + "' is not a size (e.g. 512MiB)";
            },
            "SIZE"));
    app.add_flag("--crash-at-start", cfg.crash_at_start,
                 "Fault injection: every worker exits with a crash while booting");
    app.add_option("--log-file", cfg.log_file,
                   "Write the log (every process's lines) to this file instead of stderr; SIGUSR1 reopens it "
                   "(for logrotate)");
    app.add_option("--name", cfg.name,
                   "The instance's name: several instances run side by side under different names, and "
                   "'clusterd reload --name N' addresses one")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                const bool ok = !text.empty() && text.size() <= 64 &&
                                text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
                                    std::string::npos &&
                                text.front() != '.';
                return ok ? "" : "'" + text + "' is not a name (letters, digits, '.', '_', '-'; at most 64)";
            },
            "NAME"));
    app.add_option("--control-socket", cfg.control_socket,
                   "The control socket's path (default: $RUNTIME_DIRECTORY/NAME.sock under systemd, else "
                   "/run/clusterd/NAME.sock as root, else $XDG_RUNTIME_DIR/clusterd/NAME.sock or "
                   "/tmp/clusterd-UID/NAME.sock)");
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
        ->capture_default_str()
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

    app.add_option("exec,--exec", cfg.exec,
                   "The program every worker slot runs instead of clusterd's own HTTP worker, after '--' "
                   "(clusterd --workers 4 -- node server.js; exec = [\"node\", \"server.js\"] in the file). "
                   "It gets the listening socket(s) as fd 3.. by systemd's socket-activation protocol and "
                   "speaks sd_notify (docs/OPERATING.md, \"Running your own program\")");
    app.add_option("--ready", texts.ready,
                   "With a command: when a worker counts as ready: notify (it sends READY=1) or delay:DURATION "
                   "(once it has lived that long; weaker, nothing proves it serves)")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                return ready_delay_of(text) ? "" : "'" + text + "' is neither notify nor delay:DURATION (delay:2s)";
            },
            "notify|delay:DURATION"));
    app.add_option("--stop-signal", texts.stop_signal,
                   "With a command: the signal that asks a worker to finish its requests and exit; SIGKILL "
                   "follows --shutdown-timeout later")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                return stop_signal_number(text) ? "" : "'" + text + "' is not a signal clusterd stops with "
                                                       "(SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, "
                                                       "SIGWINCH, SIGKILL)";
            },
            "SIGNAL"));
    add_duration(app, "--start-timeout", cfg.start_timeout,
                 "With a command: a worker not ready this long after it started is killed and counted as a failed "
                 "start (EXTEND_TIMEOUT_USEC= extends it)");

    // For bench/scoreboard_cost.sh only: workers skip their per-request
    // scoreboard stores (heartbeats stay, or the watchdog would kill them).
    app.add_flag("--no-scoreboard-counters", texts.no_scoreboard_counters)->group("");
}

}  // namespace

const char* to_string(ServingModel model) {
    switch (model) {
        case ServingModel::processes: return "processes";
        case ServingModel::threads: return "threads";
    }
    return "invalid";
}

const char* to_string(ComputePolicy policy) {
    for (const auto& [name, known] : compute_policies) {
        if (known == policy) return name.data();
    }
    return "batch";
}

const char* to_string(ComputeMode mode) {
    switch (mode) {
        case ComputeMode::inline_loop: return "inline";
        case ComputeMode::threads: return "threads";
        case ComputeMode::processes: return "processes";
    }
    return "invalid";
}

std::variant<ListenAddress, std::string> parse_listen_address(std::string_view text) {
    std::string_view host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {  // [v6]:port
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return "'" + std::string(text) + "' is not HOST:PORT (IPv6 is written [::1]:8080)";
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return "'" + std::string(text) + "' is not HOST:PORT (e.g. 127.0.0.1:8080)";
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535) {
        return "port '" + std::string(port) + "' is not a number from 0 to 65535";
    }
    if (host.empty()) return "the host is missing in '" + std::string(text) + "' (use 0.0.0.0 for all)";
    return ListenAddress{std::string(host), static_cast<std::uint16_t>(value)};
}


namespace {

Config defaults() {
    Config cfg;
    // The CPU count the kernel will let us use: the affinity mask bounded by the cgroup's CPU quota.
    cfg.cpus = cpu_count_within_quota(uv_available_parallelism(), read_cgroup_cpu_limit());
    cfg.workers = cfg.cpus;
    cfg.compute_processes = cfg.cpus;
    return cfg;
}

// The checks across options, and the conversions from what the options
// wrote; an error sentence, or nothing when the configuration holds.
std::optional<std::string> complete(Config& cfg, const Texts& texts) {
    if (cfg.crash_after_requests > 0 && !cfg.fault_injection) {
        return "--crash-after-requests needs --enable-fault-injection";
    }
    if (cfg.crash_at_start && !cfg.fault_injection) return "--crash-at-start needs --enable-fault-injection";
    if (cfg.backoff_initial > cfg.backoff_max) {
        return "--backoff-initial (" + format_duration(cfg.backoff_initial) + ") is larger than --backoff-max (" +
               format_duration(cfg.backoff_max) + ")";
    }
    if (!cfg.group.empty() && cfg.user.empty()) return "--group needs --user";
    if (cfg.compute_timeout.count() <= 0) return "--compute-timeout must be larger than 0";
    // The job ring's payload area holds this much per job (common/job_ring.hpp).
    for (const auto& [name, value] : {std::pair{"--task-max-input", cfg.task_max_input},
                                      std::pair{"--task-max-output", cfg.task_max_output}}) {
        if (value > task_payload_limit) return std::string(name) + " must be at most 64MiB";
    }
    cfg.listen = std::get<ListenAddress>(parse_listen_address(texts.listen));
    cfg.admin_listen.reset();
    if (!texts.admin_listen.empty()) cfg.admin_listen = std::get<ListenAddress>(parse_listen_address(texts.admin_listen));
    cfg.log_level = spdlog::level::from_str(texts.log_level);
    cfg.compute = texts.compute == "inline"      ? ComputeMode::inline_loop
                  : texts.compute == "processes" ? ComputeMode::processes
                                                 : ComputeMode::threads;
    cfg.model = texts.model == "threads" ? ServingModel::threads : ServingModel::processes;
    cfg.compute_threads = texts.compute_threads == "auto" ? default_compute_threads(cfg.cpus, cfg.workers)
                                                           : *compute_thread_count(texts.compute_threads);
    for (const auto& [name, policy] : compute_policies) {
        if (texts.compute_policy == name) cfg.compute_policy = policy;
    }
    cfg.scoreboard_counters = !texts.no_scoreboard_counters;
    // CLI11 writes no command as exec="" into the accepted configuration, which reads back as one empty word.
    if (cfg.exec.size() == 1 && cfg.exec.front().empty()) cfg.exec.clear();
    cfg.ready_delay = *ready_delay_of(texts.ready);
    cfg.stop_signal = *stop_signal_number(texts.stop_signal);
    if (cfg.exec_mode()) {
        if (cfg.model == ServingModel::threads) return "--model=threads has no meaning with a command to run";
        if (cfg.fork_server) {
            return "--fork-server cannot be used with a command to run: the program is exec'd by definition, "
                   "and only clusterd's own workers can be forked from a fork server";
        }
        if (cfg.spares > 0) {
            return "--spares cannot be used with a command to run: a spare must start without accepting and "
                   "accept when told, and a program run with '--' gets its listening socket at exec and "
                   "accepts as it likes";
        }
        if (auto error = unrunnable(cfg.exec.front())) return "the command cannot be run: " + *error;
    }
    return std::nullopt;
}

// Gives every option of the configuration its CLUSTERD_<NAME> variable and
// returns the names: the one list the unknown-variable check compares with.
std::set<std::string> name_environment(CLI::App& app) {
    std::set<std::string> names{child::upgrade_ready_env};
    for (CLI::Option* option : app.get_options()) {
        // Hidden ones, and --help, --version (--config is named by the caller).
        if (option->get_group().empty() || !option->get_configurable() || option->get_lnames().empty()) continue;
        const std::string name = env_name("--" + option->get_lnames().front());
        option->envname(name);
        names.insert(name);
    }
    return names;
}

// A CLUSTERD_* variable that names no option is a typo that would otherwise
// be silently ignored (CLUSTERD_WORKER=8 running the default).
std::optional<std::string> unknown_environment(const std::set<std::string>& known) {
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        if (!text.starts_with("CLUSTERD_")) continue;
        const std::string name(text.substr(0, text.find('=')));
        if (!known.contains(name)) return "unknown environment variable " + name + " (no such option)";
    }
    return std::nullopt;
}

ExitRequest refusal(const std::string& why) {
    return ExitRequest{2, "clusterd: " + why + "\nRun 'clusterd --help' for the options.\n"};
}

// CLI11 says "INI was not able to parse KEY" for a key no option has.
std::string config_error_sentence(const CLI::ParseError& error) {
    constexpr std::string_view extras = "INI was not able to parse ";
    const std::string text = error.what();
    if (text.starts_with(extras)) return "unknown key '" + text.substr(extras.size()) + "' in the --config file";
    return text;
}

// A child's path (common/child_contract.hpp): its contract arguments, and its
// configuration from the text the supervisor accepted, nothing else.
std::variant<Config, ExitRequest> parse_child(int argc, const char* const* argv) {
    std::string role;
    std::string accepted;
    unsigned slot = 0;
    std::uint64_t generation = 0;
    pid_t supervisor_pid = 0;
    unsigned listen_fds = 1;
    int shm_header_fd = -1;
    int shm_body_fd = -1;
    bool spare_start = false;
    CLI::App contract{"a clusterd child process, started by the supervisor", "clusterd"};
    contract.add_option(child::role_option, role)->required()->check(CLI::IsMember({"worker", "compute", "admin"}));
    contract.add_option(child::slot_option, slot)->required();
    contract.add_option(child::generation_option, generation)->required();
    contract.add_option(child::supervisor_pid_option, supervisor_pid)->required();
    contract.add_option(child::listen_fds_option, listen_fds)->check(CLI::Range(1u, 16u));
    contract.add_option(child::shm_header_fd_option, shm_header_fd)->required()->check(CLI::Range(3, 1 << 20));
    contract.add_option(child::shm_body_fd_option, shm_body_fd)->required()->check(CLI::Range(3, 1 << 20));
    contract.add_flag(child::spare_option, spare_start);
    contract.add_option(child::accepted_config_option, accepted)->required();
    // Acted on before anything was parsed (api/run.cpp, common/child_privileges.hpp).
    std::string run_as;
    std::string dumpable;
    contract.add_option(child::run_as_option, run_as);
    contract.add_option(child::dumpable_option, dumpable);
    try {
        contract.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return refusal(std::string("the supervisor's arguments for this child are wrong: ") + e.what());
    }
    // The values the supervisor accepted, not read through the option table
    // again (common/config_image.hpp); no defaults(), no cgroup files.
    std::optional<Config> given = decode_config(accepted);
    if (!given) {
        return refusal("the supervisor's arguments for this child are wrong: --accepted-config is not a "
                       "configuration this binary wrote");
    }
    Config cfg = std::move(*given);
    cfg.slot = slot;
    cfg.generation = generation;
    cfg.supervisor_pid = supervisor_pid;
    cfg.listen_fds = listen_fds;
    cfg.shm_header_fd = shm_header_fd;
    cfg.shm_body_fd = shm_body_fd;
    cfg.spare_start = spare_start;
    cfg.role = role == "compute" ? Role::compute : role == "admin" ? Role::admin : Role::worker;
    cfg.accepted = std::move(accepted);
    return cfg;
}

}  // namespace

std::variant<Config, ExitRequest> parse_config(int argc, const char* const* argv) {
    if (child::is_child_argv(argc, argv)) return parse_child(argc, argv);
    Config cfg = defaults();
    Texts texts;
    CLI::App app{"clusterd: a multi-process HTTP supervisor. Every option can also be set as "
                 "CLUSTERD_<OPTION> in the environment, e.g. CLUSTERD_WORKERS=4.",
                 "clusterd"};
    app.set_version_flag("--version", "clusterd 0.1.0")->configurable(false);
    add_options(app, cfg, texts);
    app.allow_config_extras(CLI::config_extras_mode::error);
    std::set<std::string> known_environment = name_environment(app);
    // Not part of the configuration it reads, so never in the accepted text.
    app.set_config("--config", "",
                   "Read options from this file (TOML or INI, e.g. workers = 4); the command line wins; "
                   "a reload re-reads it")
        ->configurable(false)
        ->envname(env_name("--config"));
    known_environment.insert(env_name("--config"));
    // The commands talk to the running instance named by --name (or at
    // --control-socket) and wait for the outcome: exit 0 when it worked.
    app.fallthrough();  // `clusterd reload --name web` as well as `clusterd --name web reload`
    CLI::App* status = app.add_subcommand(
        "status", "Print a running instance's workers (answered by the supervisor: works even when every "
                  "worker hangs)");
    status->add_flag("--json", cfg.status_json, "JSON instead of a table");
    CLI::App* reload = app.add_subcommand(
        "reload", "Re-read the configuration and replace the workers one at a time; waits for 'reload "
                  "complete' (exit 0) or says why it was refused or failed (exit 1)");
    CLI::App* upgrade = app.add_subcommand(
        "upgrade", "Start the binary anew on the same socket and hand over; waits for the new supervisor to "
                   "be ready (exit 0) or says why it failed (exit 1)");
    CLI::App* stop = app.add_subcommand("stop", "Drain and stop; waits until every worker has exited");
    CLI::App* scale = app.add_subcommand(
        "scale", "Run N HTTP workers until the next reload; waits until N are ready");
    scale->add_option("N", cfg.scale_to, "Workers")->required()->check(CLI::Range(1u, 1024u));
    for (CLI::App* command : {reload, upgrade, stop}) {
        command->add_flag("--no-wait", cfg.no_wait, "Return once the instance took the command");
    }
    // Their options are the command's, not the configuration's.
    for (CLI::App* command : {status, reload, upgrade, stop, scale}) {
        for (CLI::Option* option : command->get_options()) option->configurable(false);
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        return ExitRequest{0, app.help()};
    } catch (const CLI::CallForVersion& e) {
        return ExitRequest{0, std::string(e.what()) + "\n"};
    } catch (const CLI::ParseError& e) {
        return refusal(config_error_sentence(e));
    }
    if (auto error = unknown_environment(known_environment)) return refusal(*error);
    if (auto error = complete(cfg, texts)) return refusal(*error);
    if (status->parsed()) cfg.role = Role::status;
    if (reload->parsed()) cfg.role = Role::reload;
    if (upgrade->parsed()) cfg.role = Role::upgrade;
    if (stop->parsed()) cfg.role = Role::stop;
    if (scale->parsed()) cfg.role = Role::scale;
    for (int i = 1; i < argc; ++i) cfg.args.emplace_back(argv[i]);
    cfg.accepted = encode_config(cfg);
    return cfg;
}

}  // namespace clusterd
