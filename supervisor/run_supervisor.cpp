#include "supervisor/run_supervisor.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <csignal>

#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "supervisor/control_socket.hpp"
#include "supervisor/listen_socket.hpp"
#include "supervisor/privileges.hpp"
#include "supervisor/socket_activation.hpp"
#include "supervisor/supervisor.hpp"
#include "supervisor/upgrade.hpp"

namespace clusterd::supervisor {

namespace {

// Debian's default soft limit of 1024 descriptors is below what one worker's
// default --max-connections needs; the hard limit is what the operator (or
// LimitNOFILE=) allows. Raise the soft one to it, as nginx does; workers
// inherit it.
void raise_open_file_limit(const Config& config) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    const rlim_t wanted = limit.rlim_max;
    limit.rlim_cur = wanted;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        spdlog::warn("setrlimit(RLIMIT_NOFILE, {}) failed: {}", wanted, std::strerror(errno));
        return;
    }
    if (wanted < config.max_connections + 64) {
        spdlog::warn("the open-file limit ({}) is below --max-connections ({}) per worker; raise LimitNOFILE "
                     "(ulimit -Hn)",
                     wanted, config.max_connections);
    }
}

// The sockets systemd passed (socket activation), or --listen bound here.
std::variant<std::vector<ListenSocket>, std::string> listen_sockets_for(const Config& config,
                                                                       std::vector<InheritedSocket>& inherited) {
    std::vector<ListenSocket> sockets;
    if (inherited.empty()) {
        auto bound = bind_listen_socket(config.listen);
        if (auto* error = std::get_if<std::string>(&bound)) return "cannot listen: " + *error;
        sockets.push_back(std::move(std::get<ListenSocket>(bound)));
        return sockets;
    }
    if (inherited.size() > max_listen_sockets) {
        return "socket activation passed " + std::to_string(inherited.size()) + " sockets; at most " +
               std::to_string(max_listen_sockets) + " are served";
    }
    for (auto& socket : inherited) {
        spdlog::info("socket activation: serving on the inherited socket '{}' ({}); --listen is ignored", socket.name,
                     socket.address);
        sockets.push_back(ListenSocket{std::move(socket.fd), socket.address});
    }
    return sockets;
}

// The admin worker's socket: the one socket activation named "admin" (taken
// out of `inherited`, so the HTTP workers never serve it), else
// --admin-listen bound here, else none.
std::variant<std::optional<ListenSocket>, std::string> admin_socket_for(const Config& config,
                                                                        std::vector<InheritedSocket>& inherited) {
    const auto named = std::find_if(inherited.begin(), inherited.end(),
                                    [](const InheritedSocket& s) { return s.name == admin_socket_name; });
    if (named != inherited.end()) {
        ListenSocket socket{std::move(named->fd), named->address};
        inherited.erase(named);
        if (inherited.empty()) return "socket activation passed only the admin socket; nothing to serve on";
        spdlog::info("socket activation: the admin worker serves the inherited socket '{}' ({}); --admin-listen is "
                     "ignored",
                     admin_socket_name, socket.address);
        return std::optional<ListenSocket>(std::move(socket));
    }
    if (!config.admin_listen) return std::optional<ListenSocket>{};
    auto bound = bind_listen_socket(*config.admin_listen);
    if (auto* error = std::get_if<std::string>(&bound)) return "cannot listen for --admin-listen: " + *error;
    return std::optional<ListenSocket>(std::move(std::get<ListenSocket>(bound)));
}

// Whom to drop to after binding, if anyone: std::monostate means "stay as we are".
std::variant<std::monostate, RunAs, std::string> who_runs_the_cluster(const Config& config) {
    const bool root = running_as_root();
    if (auto refusal = refuse_root_without_user(root, !config.user.empty(), config.allow_root)) return *refusal;
    if (config.user.empty()) return std::monostate{};
    auto resolved = resolve_run_as(config.user, config.group);
    if (auto* error = std::get_if<std::string>(&resolved)) return *error;
    RunAs ids = std::get<RunAs>(resolved);
    if (root) return ids;
    // Already unprivileged (a binary upgrade after the drop, or started as that user): fine if it is us.
    if (ids.uid == ::geteuid() && ids.gid == ::getegid()) return std::monostate{};
    return "--user " + config.user + " needs the daemon started as root (it runs as uid " +
           std::to_string(::geteuid()) + ")";
}

// Says whom the workers run as; nothing is handed over: the supervisor keeps
// root, the control socket, the log file and the configuration stay root's,
// and the children map the segment through the descriptors they inherit,
// which need no permission on the memfds' inodes.
void announce_run_as(const RunAs& ids) {
    spdlog::info("workers run as {}:{} (uid {}, gid {}); the supervisor keeps root", ids.user, ids.group, ids.uid,
                 ids.gid);
    if (auto warning = shared_user_warning(ids)) spdlog::warn("{}", *warning);
}

}  // namespace

int run_supervisor(const Config& config) {
    Supervisor::hold_signals_until_handled();
    try {
        init_logging("[supervisor " + std::to_string(getpid()) + "]", config.log_level, config.log_file);
    } catch (const spdlog::spdlog_ex& error) {
        std::fprintf(stderr, "clusterd: cannot open --log-file %s: %s\n", config.log_file.c_str(), error.what());
        return exit_code::config_error;
    }
    // First, before anything else opens a descriptor: fds 3.. may be systemd's.
    auto activation = take_inherited_sockets();
    if (auto* error = std::get_if<std::string>(&activation)) {
        spdlog::critical("{}", *error);
        return exit_code::config_error;
    }
    UniqueFd upgrade_ready = take_upgrade_ready_fd();
    raise_open_file_limit(config);
    auto run_as = who_runs_the_cluster(config);
    if (auto* error = std::get_if<std::string>(&run_as)) {
        spdlog::critical("{}", *error);
        return exit_code::config_error;
    }
    // A client that disconnects must not kill us on write; errors come back as EPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    // Whatever our own parent leaked to us must not reach the workers.
    uv_disable_stdio_inheritance();

    // The segment has no name (two memfds, common/shm_segment.hpp): nothing
    // in /dev/shm to clean up after a killed supervisor, nothing anyone can
    // plant there to hang, fail or delete.
    // Two slots per worker (at least 16): a replacement starts before its
    // predecessor leaves, and a reload may add workers; and one process's
    // slots per hot spare (a --model=threads process has --workers of them).
    SegmentShape shape;
    shape.workers = config.workers;
    const unsigned loops = config.model == ServingModel::threads ? config.workers : 1;
    shape.http_slots = 2 * std::max(config.workers, 8u) + config.spares * loops;
    shape.compute_mode = static_cast<std::uint32_t>(config.compute);
    if (config.compute == ComputeMode::processes && !config.exec_mode()) {  // a program computes on its own
        shape.compute_slots = config.compute_processes;
        // Room for every queued job plus one running on each compute process:
        // "queue full" then means exactly --compute-queue jobs waiting.
        shape.job_capacity = config.compute_queue + config.compute_processes;
        // Options are checked against job_payload_max at parse time.
        shape.task_max_input = static_cast<std::uint32_t>(config.task_max_input);
        shape.task_max_output = static_cast<std::uint32_t>(config.task_max_output);
    }
    auto created = ShmSegment::create(shape, getpid());
    if (auto* error = std::get_if<std::string>(&created)) {
        spdlog::critical("{}", *error);
        return exit_code::failure;
    }
    auto& segment = std::get<ShmSegment>(created);

    auto& inherited = std::get<std::vector<InheritedSocket>>(activation);
    auto admin = admin_socket_for(config, inherited);
    if (auto* error = std::get_if<std::string>(&admin)) {
        spdlog::critical("{}", *error);
        return exit_code::failure;
    }
    auto bound = listen_sockets_for(config, inherited);
    if (auto* error = std::get_if<std::string>(&bound)) {
        spdlog::critical("{}", *error);
        return exit_code::failure;
    }
    auto& listen = std::get<std::vector<ListenSocket>>(bound);
    for (const auto& socket : listen) spdlog::info("listening on {}", socket.address);
    auto& admin_socket = std::get<std::optional<ListenSocket>>(admin);
    if (admin_socket) spdlog::info("admin listener (metrics, status, probes) on {}", admin_socket->address);
    // A new supervisor of a binary upgrade takes the socket over from the old one.
    auto control = bind_control_socket(control_socket_path(config), static_cast<bool>(upgrade_ready));
    if (auto* error = std::get_if<std::string>(&control)) {
        spdlog::critical("{}", *error);
        return exit_code::failure;
    }
    auto& bound_control = std::get<BoundControlSocket>(control);
    spdlog::info("control socket: {}", bound_control.path);
    std::optional<child::Identity> children;
    if (auto* ids = std::get_if<RunAs>(&run_as)) {
        announce_run_as(*ids);
        children = child::Identity{ids->uid, ids->gid, false};
    }
    // What removing the control socket needs, should the supervisor fail to start.
    const BoundControlSocket leftover{UniqueFd{}, bound_control.path, bound_control.inode};
    try {
        Supervisor supervisor(config, std::move(listen), segment, std::move(upgrade_ready), std::move(bound_control),
                              std::move(admin_socket), children);
        return supervisor.run();
    } catch (const spdlog::spdlog_ex& error) {
        // The workers' log sink opens --log-file again; whatever fails, the
        // segment's destructor still runs on the way out.
        spdlog::critical("cannot start: {}", error.what());
        remove_control_socket(leftover);
        return exit_code::failure;
    }
}

}  // namespace clusterd::supervisor
