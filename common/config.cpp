#include "common/config.hpp"

#include <uv.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <charconv>

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
        ->default_str(format_duration(target))
        ->envname(env_name(name));
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
        ->default_str(std::to_string(target))
        ->envname(env_name(name));
}

template <typename T>
CLI::Option* add_number(CLI::App& app, const std::string& name, T& target, T min, T max,
                        const std::string& help) {
    return app.add_option(name, target, help)
        ->check(CLI::Range(min, max))
        ->capture_default_str()
        ->envname(env_name(name));
}

void add_options(CLI::App& app, Config& cfg, std::string& listen, std::string& log_level,
                 std::string& role, std::string& compute, std::string& model) {
    app.add_option("--listen", listen, "Address to listen on, HOST:PORT; port 0 picks a free port")
        ->capture_default_str()
        ->envname(env_name("--listen"))
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                auto parsed = parse_listen_address(text);
                auto* error = std::get_if<std::string>(&parsed);
                return error ? *error : "";
            },
            "HOST:PORT"));
    add_number(app, "--workers", cfg.workers, 1u, 1024u,
               "HTTP event loops: worker processes with --model=processes, threads of the one worker process "
               "with --model=threads (default: CPU count)");
    app.add_option("--model", model,
                   "Serving model: processes (--workers processes, one event loop each) or threads (one worker "
                   "process running --workers event-loop threads; a crash or hang of it restarts all of them)")
        ->capture_default_str()
        ->envname(env_name("--model"))
        ->check(CLI::IsMember({"processes", "threads"}));

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
                 "Send a hung worker SIGABRT first, so it leaves a core dump; SIGKILL follows a second later")
        ->envname(env_name("--core-on-hang"));
    add_duration(app, "--shutdown-timeout", cfg.shutdown_timeout,
                 "On SIGTERM/SIGINT, how long workers may finish in-flight requests before SIGKILL");
    add_duration(app, "--drain-quiet", cfg.drain_quiet,
                 "While draining, an idle keep-alive connection is closed after this much silence");
    add_duration(app, "--header-timeout", cfg.header_timeout,
                 "A request must arrive whole within this time of its first byte (else 408)");
    add_duration(app, "--idle-timeout", cfg.idle_timeout, "An idle keep-alive connection is closed after this");
    add_number(app, "--max-connections", cfg.max_connections, 1u, 1'000'000u,
               "Open connections per worker; more are answered 503 and closed");
    add_byte_size(app, "--max-header-size", cfg.max_header_size, "Largest request head in bytes (else 431)");
    add_byte_size(app, "--max-body-size", cfg.max_body_size, "Largest request body in bytes (else 413)");

    app.add_option("--compute", compute,
                   "Where the application's tasks run: inline (on the event loop, blocking it), threads (a pool per worker) "
                   "or processes (compute processes fed through shared memory)")
        ->capture_default_str()
        ->envname(env_name("--compute"))
        ->check(CLI::IsMember({"inline", "threads", "processes"}));
    add_number(app, "--compute-threads", cfg.compute_threads, 1u, 256u,
               "Threads per worker with --compute=threads (default: CPU count)");
    add_number(app, "--compute-processes", cfg.compute_processes, 1u, 256u,
               "Compute processes with --compute=processes (default: CPU count)");
    add_number(app, "--compute-queue", cfg.compute_queue, 1u, 4096u,
               "Jobs that may wait for an executor (per worker; per cluster with processes); more get 503");
    add_duration(app, "--compute-timeout", cfg.compute_timeout,
                 "A job not finished by then is answered 504; its thread or process is dealt with");
    add_byte_size(app, "--task-max-input", cfg.task_max_input,
                  "Largest input of a task in bytes, for every executor (else 413); a task may set less");
    add_byte_size(app, "--task-max-output", cfg.task_max_output,
                  "Largest output of a task in bytes, for every executor (else 502); a task may set less");

    app.add_option("--user", cfg.user,
                   "Started as root: bind, then run the supervisor and every worker as this user (name or uid)")
        ->envname(env_name("--user"));
    app.add_option("--group", cfg.group, "With --user: this group instead of the user's primary group")
        ->envname(env_name("--group"));
    app.add_flag("--allow-root", cfg.allow_root,
                 "Let the workers run as root when started as root without --user (refused otherwise)")
        ->envname(env_name("--allow-root"));

    app.add_flag("--enable-fault-injection", cfg.fault_injection,
                 "Serve /debug/crash?mode=segv|abort|exit|hang|slow (never in production)")
        ->envname(env_name("--enable-fault-injection"));
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
            "SIZE"))
        ->envname(env_name("--max-worker-memory"));
    app.add_flag("--crash-at-start", cfg.crash_at_start,
                 "Fault injection: every worker exits with a crash while booting")
        ->envname(env_name("--crash-at-start"));
    app.add_option("--log-file", cfg.log_file,
                   "Write the log (every process's lines) to this file instead of stderr; SIGUSR1 reopens it "
                   "(for logrotate)")
        ->envname(env_name("--log-file"));
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
        ->capture_default_str()
        ->envname(env_name("--log-level"))
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

    // For bench/scoreboard_cost.sh only: workers skip their per-request
    // scoreboard stores (heartbeats stay, or the watchdog would kill them).
    app.add_flag("!--no-scoreboard-counters", cfg.scoreboard_counters)->group("");

    // Set by the supervisor when it starts a worker; hidden from --help.
    app.add_option("--role", role)->check(CLI::IsMember({"supervisor", "worker", "compute"}))->group("");
    app.add_option("--slot", cfg.slot)->group("");
    app.add_option("--generation", cfg.generation)->group("");
    app.add_option("--supervisor-pid", cfg.supervisor_pid)->group("");
    app.add_option("--listen-fds", cfg.listen_fds)->check(CLI::Range(1u, 16u))->group("");
}

}  // namespace

const char* to_string(ServingModel model) {
    switch (model) {
        case ServingModel::processes: return "processes";
        case ServingModel::threads: return "threads";
    }
    return "invalid";
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

std::variant<Config, ExitRequest> parse_config(int argc, const char* const* argv) {
    Config cfg;
    cfg.workers = std::max(1u, uv_available_parallelism());
    std::string listen = "127.0.0.1:8080";
    std::string log_level = "info";
    std::string role = "supervisor";
    std::string compute = "threads";
    std::string model = "processes";
    cfg.compute_threads = cfg.workers;
    cfg.compute_processes = cfg.workers;

    CLI::App app{"clusterd: a multi-process HTTP supervisor. Every option can also be set as "
                 "CLUSTERD_<OPTION> in the environment, e.g. CLUSTERD_WORKERS=4.",
                 "clusterd"};
    app.set_version_flag("--version", "clusterd 0.1.0");
    add_options(app, cfg, listen, log_level, role, compute, model);
    app.set_config("--config", "",
                   "Read options from this file (TOML or INI, e.g. workers = 4); the command line wins; "
                   "SIGHUP re-reads it")
        ->envname(env_name("--config"));
    CLI::App* status = app.add_subcommand(
        "status", "Print a running instance's workers, read from its shared memory (works even when every "
                  "worker hangs)");
    status->add_option("--pid", cfg.status_pid, "Supervisor pid (default: the only running instance)");
    status->add_flag("--json", cfg.status_json, "JSON instead of a table");
    CLI::App* reload = app.add_subcommand(
        "reload", "Ask a running instance to re-read its configuration and replace its workers one at a time "
                  "(the same as SIGHUP)");
    reload->add_option("--pid", cfg.status_pid, "Supervisor pid (default: the only running instance)");
    CLI::App* upgrade = app.add_subcommand(
        "upgrade", "Ask a running instance to start its binary anew on the same socket and hand over "
                   "(the same as SIGUSR2)");
    upgrade->add_option("--pid", cfg.status_pid, "Supervisor pid (default: the only running instance)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        return ExitRequest{0, app.help()};
    } catch (const CLI::CallForVersion& e) {
        return ExitRequest{0, std::string(e.what()) + "\n"};
    } catch (const CLI::ParseError& e) {
        return ExitRequest{2, std::string("clusterd: ") + e.what() + "\nRun 'clusterd --help' for the options.\n"};
    }
    if (cfg.crash_after_requests > 0 && !cfg.fault_injection) {
        return ExitRequest{2, "clusterd: --crash-after-requests needs --enable-fault-injection\n"};
    }
    if (cfg.crash_at_start && !cfg.fault_injection) {
        return ExitRequest{2, "clusterd: --crash-at-start needs --enable-fault-injection\n"};
    }
    if (cfg.backoff_initial > cfg.backoff_max) {
        return ExitRequest{2, "clusterd: --backoff-initial (" + format_duration(cfg.backoff_initial) +
                                  ") is larger than --backoff-max (" + format_duration(cfg.backoff_max) + ")\n"};
    }
    cfg.listen = std::get<ListenAddress>(parse_listen_address(listen));
    cfg.log_level = spdlog::level::from_str(log_level);
    if (!cfg.group.empty() && cfg.user.empty()) {
        return ExitRequest{2, "clusterd: --group needs --user\n"};
    }
    if (cfg.compute_timeout.count() <= 0) {
        return ExitRequest{2, "clusterd: --compute-timeout must be larger than 0\n"};
    }
    // The job ring's payload area holds this much per job (common/job_ring.hpp).
    for (const auto& [name, value] : {std::pair{"--task-max-input", cfg.task_max_input},
                                      std::pair{"--task-max-output", cfg.task_max_output}}) {
        if (value > task_payload_limit) {
            return ExitRequest{2, std::string("clusterd: ") + name + " must be at most 64MiB\n"};
        }
    }
    cfg.role = role == "worker" ? Role::worker : role == "compute" ? Role::compute : Role::supervisor;
    cfg.compute = compute == "inline" ? ComputeMode::inline_loop
                  : compute == "processes" ? ComputeMode::processes
                                           : ComputeMode::threads;
    cfg.model = model == "threads" ? ServingModel::threads : ServingModel::processes;
    if (status->parsed()) cfg.role = Role::status;
    if (reload->parsed()) cfg.role = Role::reload;
    if (upgrade->parsed()) cfg.role = Role::upgrade;
    for (int i = 1; i < argc; ++i) cfg.args.emplace_back(argv[i]);
    return cfg;
}

}  // namespace clusterd
