#include "supervisor/run_supervisor.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/interprocess/shared_memory_object.hpp>
#include <csignal>

#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "supervisor/listen_socket.hpp"
#include "supervisor/socket_activation.hpp"
#include "supervisor/supervisor.hpp"
#include "supervisor/upgrade.hpp"

namespace clusterd::supervisor {

namespace {

// The socket systemd passed (socket activation), or --listen bound here.
std::variant<ListenSocket, std::string> listen_socket_for(const Config& config,
                                                          std::vector<InheritedSocket>& inherited) {
    if (inherited.empty()) {
        auto bound = bind_listen_socket(config.listen);
        if (auto* error = std::get_if<std::string>(&bound)) return "cannot listen: " + *error;
        return std::move(std::get<ListenSocket>(bound));
    }
    if (inherited.size() > 1) {
        return "socket activation passed " + std::to_string(inherited.size()) +
               " sockets; this version serves exactly one (one ListenStream= in clusterd.socket)";
    }
    spdlog::info("socket activation: serving on the inherited socket '{}' ({}); --listen is ignored",
                 inherited[0].name, inherited[0].address);
    return ListenSocket{std::move(inherited[0].fd), inherited[0].address};
}

}  // namespace

int run_supervisor(const Config& config) {
    init_logging("[supervisor " + std::to_string(getpid()) + "]", config.log_level);
    // First, before anything else opens a descriptor: fds 3.. may be systemd's.
    auto activation = take_inherited_sockets();
    if (auto* error = std::get_if<std::string>(&activation)) {
        spdlog::critical("{}", *error);
        return exit_code::config_error;
    }
    UniqueFd upgrade_ready = take_upgrade_ready_fd();
    // A client that disconnects must not kill us on write; errors come back as EPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    // Whatever our own parent leaked to us must not reach the workers.
    uv_disable_stdio_inheritance();

    for (const auto& stale : remove_stale_segments()) {
        spdlog::info("removed shared memory /dev/shm/{} left by a supervisor that is gone", stale);
    }
    // A segment under our own name can only be a leftover of a dead process
    // that had our pid; the header check above trusts the pid, so drop it here.
    const std::string name = segment_name_for(getpid());
    boost::interprocess::shared_memory_object::remove(name.c_str());
    // Two slots per worker (at least 16): a replacement starts before its
    // predecessor leaves, and a reload may add workers.
    SegmentShape shape;
    shape.workers = config.workers;
    shape.http_slots = 2 * std::max(config.workers, 8u);
    shape.compute_mode = static_cast<std::uint32_t>(config.compute);
    if (config.compute == ComputeMode::processes) {
        shape.compute_slots = config.compute_processes;
        // Room for every queued job plus one running on each compute process:
        // "queue full" then means exactly --compute-queue jobs waiting.
        shape.job_capacity = config.compute_queue + config.compute_processes;
    }
    auto created = ShmSegment::create(name, shape, getpid());
    if (auto* error = std::get_if<std::string>(&created)) {
        spdlog::critical("{}", *error);
        return exit_code::failure;
    }
    auto& segment = std::get<ShmSegment>(created);

    auto bound = listen_socket_for(config, std::get<std::vector<InheritedSocket>>(activation));
    if (auto* error = std::get_if<std::string>(&bound)) {
        spdlog::critical("{}", *error);
        return exit_code::failure;
    }
    auto& listen = std::get<ListenSocket>(bound);
    spdlog::info("listening on {}", listen.address);
    Supervisor supervisor(config, std::move(listen), segment, std::move(upgrade_ready));
    return supervisor.run();
    // The segment's destructor removes /dev/shm/clusterd.<pid>.
}

}  // namespace clusterd::supervisor
