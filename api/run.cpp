// clusterd::run: the one process entry, as the stock binary had it in its
// main: parse the configuration, then be what this process was started as.
// The supervisor fork+execs this same binary (the application's own) as
// HTTP workers and compute processes, which then serve the App they declared
// in their own main before calling run().
#include <cstdio>
#include <variant>

#include "clusterd/app.hpp"
#include "common/child_contract.hpp"
#include "common/child_privileges.hpp"
#include "common/config.hpp"
#include "common/exit_codes.hpp"
#include "supervisor/control_command.hpp"
#include "supervisor/exec_shim.hpp"
#include "supervisor/run_supervisor.hpp"
#include "worker/compute_process.hpp"
#include "worker/fork_server.hpp"
#include "worker/worker.hpp"

namespace clusterd {

namespace {

// A child of a supervisor that kept root becomes --user before it reads
// anything, starts a thread or execs a program (common/child_privileges.hpp).
// False (said on stderr) when it cannot: the child must not run as root.
bool become_the_childs_user(int argc, const char* const* argv) {
    const auto asked = child::identity_in(argc, argv);
    const std::string* error = std::get_if<std::string>(&asked);
    std::optional<std::string> failed;
    if (const auto* identity = std::get_if<child::Identity>(&asked)) failed = child::become(*identity);
    if (failed) error = &*failed;
    if (error == nullptr) return true;
    std::fprintf(stderr, "clusterd: %s\n", error->c_str());
    return false;
}

}  // namespace

int run(const App& app, int argc, char** argv) {
    if (child::is_child_argv(argc, argv) && !become_the_childs_user(argc, argv)) return exit_code::failure;
    // First: the exec shim (`clusterd -- COMMAND`) parses only what the
    // supervisor gave it, then execs the user's program.
    if (supervisor::is_exec_shim_argv(argc, argv)) return supervisor::run_exec_shim(argc, argv);
    // The fork server (--fork-server): the workers it forks go on here as if
    // exec'd with the arguments the supervisor sent (worker/fork_server.hpp).
    if (worker::is_fork_server_argv(argc, argv)) {
        return worker::run_fork_server(argc, argv, [&app](int child_argc, char** child_argv) {
            return run(app, child_argc, child_argv);
        });
    }
    auto parsed = parse_config(argc, argv);
    if (auto* exit = std::get_if<ExitRequest>(&parsed)) {
        std::fputs(exit->text.c_str(), exit->code == 0 ? stdout : stderr);
        return exit->code;
    }
    const auto& config = std::get<Config>(parsed);
    if (config.role == Role::worker) return worker::run_worker(config, app.model());
    if (config.role == Role::compute) return worker::run_compute_process(config, app.model());
    if (config.role == Role::admin) return worker::run_admin_worker(config, app.model());
    if (config.role != Role::supervisor) return supervisor::run_control_command(config);  // reload, status, ...
    return supervisor::run_supervisor(config);
}

}  // namespace clusterd
