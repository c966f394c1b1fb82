// The one executable: the supervisor by default, an HTTP worker or a compute
// process when the supervisor starts it with --role worker|compute. Wiring only.
#include <cstdio>
#include <variant>

#include "common/config.hpp"
#include "supervisor/control_command.hpp"
#include "supervisor/run_supervisor.hpp"
#include "worker/compute_process.hpp"
#include "worker/worker.hpp"

int main(int argc, char** argv) {
    auto parsed = clusterd::parse_config(argc, argv);
    if (auto* exit = std::get_if<clusterd::ExitRequest>(&parsed)) {
        std::fputs(exit->text.c_str(), exit->code == 0 ? stdout : stderr);
        return exit->code;
    }
    const auto& config = std::get<clusterd::Config>(parsed);
    if (config.role == clusterd::Role::worker) return clusterd::worker::run_worker(config);
    if (config.role == clusterd::Role::compute) return clusterd::worker::run_compute_process(config);
    if (config.role != clusterd::Role::supervisor) return clusterd::supervisor::run_control_command(config);
    return clusterd::supervisor::run_supervisor(config);
}
