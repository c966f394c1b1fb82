// The admin role (--admin-listen): one small native worker process that
// serves the whole cluster's /metrics, /status, /healthz and /readyz on its
// own socket, for a program run with `clusterd -- COMMAND` (which serves no
// metrics of its own) or to keep metrics off the public port
// (--admin-only-metrics). The supervisor's own loop never parses HTTP: it
// supervises this process instead (supervisor/admin_worker.hpp).
//
// It maps the segment read-only and owns no scoreboard slot: a bug or an
// exploit here can read the cluster's figures, never change them. It runs
// none of the application's code: its hooks and routes are the HTTP
// workers'; the application model only names routes and tasks in /metrics.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "common/child_contract.hpp"
#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "worker/child_start.hpp"
#include "worker/ready_report.hpp"
#include "worker/worker.hpp"

namespace clusterd::worker {

namespace {

// Scrapers and probes, not clients: a few connections are plenty, and a
// flood of them cannot make this process a memory problem.
constexpr unsigned admin_max_connections = 64;

}  // namespace

int run_admin_worker(const Config& config, const detail::AppModel& app) {
    init_logging("[admin " + std::to_string(getpid()) + "]", config.log_level);
    if (!start_as_supervisors_child(config, "admin")) return exit_code::config_error;
    auto attached = ShmSegment::attach({config.shm_header_fd, config.shm_body_fd}, ShmSegment::Access::read_only);
    if (auto* error = std::get_if<std::string>(&attached)) {
        spdlog::critical("{}", *error);
        return exit_code::config_error;
    }
    const auto& segment = std::get<ShmSegment>(attached);

    // Nothing of the serving configuration applies here but the HTTP limits:
    // no executor, no fault injection, no recycling.
    Config admin = config;
    admin.compute = ComputeMode::inline_loop;
    admin.fault_injection = false;
    admin.crash_after_requests = 0;
    admin.max_requests = 0;
    admin.max_connections = std::min(admin.max_connections, admin_max_connections);
    LoopSetup setup;
    setup.slot = segment.slot_count();  // none: its reports are dropped, the scoreboard stays the workers'
    setup.listen_fds = {child::listen_fd};
    setup.reads_commands = false;  // stopped by SIGTERM, which drains it as any worker
    setup.admin = true;
    setup.report_ready = report_ready_to_supervisor;
    std::unique_ptr<Worker> worker;
    try {
        worker = std::make_unique<Worker>(admin, app, &segment, std::move(setup));
    } catch (const std::exception& error) {
        spdlog::critical("the admin worker cannot start: {}", error.what());
        return exit_code::config_error;
    }
    return worker->run();
}

}  // namespace clusterd::worker
