#include "supervisor/control_command.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>

#include "supervisor/instance_lookup.hpp"

namespace clusterd::supervisor {

int run_control_command(const Config& config) {
    const bool reload = config.role == Role::reload;
    const char* verb = reload ? "reload" : "upgrade";
    auto found = find_running_instance(config.status_pid);
    if (auto* error = std::get_if<std::string>(&found)) {
        std::fprintf(stderr, "clusterd %s: %s\n", verb, error->c_str());
        return 1;
    }
    const pid_t pid = std::get<pid_t>(found);
    const int signal = reload ? SIGHUP : SIGUSR2;
    if (::kill(pid, signal) != 0) {
        std::fprintf(stderr, "clusterd %s: kill(%d, %s) failed: %s\n", verb, pid, sigabbrev_np(signal),
                     std::strerror(errno));
        return 1;
    }
    std::printf("sent SIG%s to clusterd %d; its log says how the %s went\n", sigabbrev_np(signal), pid, verb);
    return 0;
}

}  // namespace clusterd::supervisor
