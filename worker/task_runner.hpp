// Runs one of the application's tasks on a job, wherever the executor is:
// on the loop, on a pool thread, in a compute process. Everything the task
// does wrong becomes a status, never a dead process: an exception is failed
// (500) or bad_input (400) with its message as the output, an answer over the
// task's output limit is output_too_large (502, logged). Only a real crash
// (SIGSEGV, abort) escapes, and the executor's own rules deal with that.
//
// The job may have crossed shared memory from a process that died
// mid-write: the task index and lengths are checked against private copies
// before anything is used.
#pragma once

#include <cstddef>

#include "common/config.hpp"
#include "worker/app_model.hpp"
#include "worker/compute/backend.hpp"

namespace clusterd::worker {

// A task's limits under this configuration: its own, capped by the options.
struct TaskLimits {
    std::size_t max_input = 0;
    std::size_t max_output = 0;
    Millis deadline{0};
};
[[nodiscard]] TaskLimits task_limits(const detail::TaskSpec& task, const Config& config);

class TaskRunner {
public:
    // obey_faults: false ignores fault flags (a compute process started
    // without --enable-fault-injection never obeys a scribbled one).
    TaskRunner(const detail::AppModel& app, const Config& config, bool obey_faults);

    // Thread-safe: the model and config are read-only.
    [[nodiscard]] compute::JobOutput operator()(const compute::Job& job) const;

    // "task score (1024 bytes in)": what the scoreboard shows as the job a
    // process is busy with, and what a crash line names.
    [[nodiscard]] std::string describe(const JobParams& params) const;

private:
    const detail::AppModel& app_;
    const Config& config_;
    bool obey_faults_;
};

}  // namespace clusterd::worker
