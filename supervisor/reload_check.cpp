#include "supervisor/reload_check.hpp"

namespace clusterd::supervisor {

std::string reload_refusal(const Config& now, const Config& next, unsigned http_slots) {
    if (next.listen.host != now.listen.host || next.listen.port != now.listen.port) {
        return "--listen cannot change on reload (use a binary upgrade or a restart)";
    }
    if (next.admin_listen != now.admin_listen) {
        return "--admin-listen cannot change on reload (the admin socket is bound at start; use a binary upgrade "
               "or a restart)";
    }
    if (next.compute != now.compute || next.compute_processes != now.compute_processes ||
        (now.compute == ComputeMode::processes && next.compute_queue != now.compute_queue)) {
        return "--compute, --compute-processes and (with processes) --compute-queue size the shared memory "
               "and cannot change on reload";
    }
    if (next.exec_mode() != now.exec_mode()) {
        return "--exec: a command cannot be added or removed on reload (the shared memory and the workers' kind "
               "are laid out at start; restart to change it); a running command can be replaced by another";
    }
    if (now.compute == ComputeMode::processes &&
        (next.task_max_input != now.task_max_input || next.task_max_output != now.task_max_output)) {
        return "with --compute=processes, --task-max-input and --task-max-output size the job ring's payload area "
               "and cannot change on reload (restart to change them)";
    }
    if (next.model != now.model) return "--model cannot change on reload (restart to change it)";
    if (next.fork_server != now.fork_server) {
        return "--fork-server cannot change on reload (the fork server is started with the supervisor; restart "
               "to change it)";
    }
    if (now.model == ServingModel::threads && next.workers != now.workers) {
        return "with --model=threads, --workers sizes the worker process's event loops and cannot change on "
               "reload (restart to change it)";
    }
    // Serving processes, hot spares and one successor must fit the slots laid out at start.
    const unsigned loops = now.model == ServingModel::threads ? now.workers : 1;
    const unsigned processes = http_slots / loops;
    if (next.workers / loops + next.spares + 1 > processes) {
        if (next.spares == 0 || next.spares == now.spares) {
            return "--workers " + std::to_string(next.workers) + " needs more slots than this instance has (" +
                   std::to_string((processes - 1 - std::min(processes - 1, next.spares)) * loops) +
                   " workers at most with --spares " + std::to_string(next.spares) + "; restart to grow further)";
        }
        return "--spares " + std::to_string(next.spares) + " with --workers " + std::to_string(next.workers) +
               " needs more slots than this instance has (" + std::to_string(processes - 1) +
               " worker processes and spares together at most; restart to grow further)";
    }
    // Privileges were dropped at start: there is no way back to choose others.
    if (next.user != now.user || next.group != now.group || next.allow_root != now.allow_root) {
        return "--user, --group and --allow-root are applied once at start (restart to change them)";
    }
    if (next.name != now.name || next.control_socket != now.control_socket) {
        return "--name and --control-socket name the instance and cannot change on reload (restart to change "
               "them)";
    }
    if (next.log_file != now.log_file) {
        return "--log-file cannot change on reload (restart to change it; SIGUSR1 reopens the same path)";
    }
    return "";
}

}  // namespace clusterd::supervisor
