#include "worker/child_start.hpp"

#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include "common/child_contract.hpp"

namespace clusterd::worker {

bool start_as_supervisors_child(const Config& config, const char* role) {
    // Die with the supervisor, whatever kills it: an orphan would keep
    // serving the old configuration on a socket nobody supervises.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (config.supervisor_pid == 0 || getppid() != config.supervisor_pid) {
        // Either started by hand, or the supervisor died before prctl().
        spdlog::critical("the {} role is started by the supervisor only (parent {} is not supervisor {})", role,
                         getppid(), config.supervisor_pid);
        return false;
    }
    // uv_spawn reset every disposition; these are the supervisor's business.
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGHUP, SIG_IGN);
    std::signal(SIGUSR1, SIG_IGN);
    std::signal(SIGUSR2, SIG_IGN);
    struct stat listen_stat{};
    if (fstat(child::listen_fd, &listen_stat) != 0 || !S_ISSOCK(listen_stat.st_mode)) {
        spdlog::critical("fd {} is not the listening socket; the {} role is started by the supervisor only",
                         child::listen_fd, role);
        return false;
    }
    return true;
}

}  // namespace clusterd::worker
