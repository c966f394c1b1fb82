#include "worker/compute/scheduling.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace clusterd::worker::compute {

std::optional<std::string> apply_to_this_thread(const Scheduling& scheduling) {
    const auto failed = [](const char* call) {
        return std::string(call) + ": " + std::generic_category().message(errno);
    };
    const sched_param no_priority{};  // SCHED_BATCH, SCHED_IDLE and SCHED_OTHER take priority 0
    const int policy = scheduling.policy == ComputePolicy::idle    ? SCHED_IDLE
                       : scheduling.policy == ComputePolicy::batch ? SCHED_BATCH
                                                                   : SCHED_OTHER;
    if (scheduling.policy != ComputePolicy::other && sched_setscheduler(0, policy, &no_priority) != 0) {
        return failed(policy == SCHED_IDLE ? "sched_setscheduler(SCHED_IDLE)" : "sched_setscheduler(SCHED_BATCH)");
    }
    // setpriority with a thread id changes that thread alone on Linux.
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    if (scheduling.nice != 0 && ::setpriority(PRIO_PROCESS, tid, scheduling.nice) != 0) {
        return failed("setpriority");
    }
    return std::nullopt;
}

}  // namespace clusterd::worker::compute
