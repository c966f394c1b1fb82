// The compute process role (--compute=processes): no event loop and no
// socket, one job at a time from the shared job ring. It claims the oldest
// queued job, runs it, hands the result back through the ring and wakes the
// HTTP worker that asked; with nothing queued it sleeps on the ring's futex,
// waking at least every heartbeat period so the supervisor sees it alive.
//
// While it computes there is no heartbeat: the job's deadline bounds it
// instead, and the supervisor kills a compute process still on a job past
// its deadline. A crash mid-job costs only that job (502); the supervisor
// releases what it held when it reaps it.
#pragma once

#include "common/config.hpp"
#include "worker/app_model.hpp"

namespace clusterd::worker {

// Entry point of the compute role: runs app's tasks (its compute hooks
// first; one that throws is exit 2). Returns the process exit code.
[[nodiscard]] int run_compute_process(const Config& config, const detail::AppModel& app);

}  // namespace clusterd::worker
