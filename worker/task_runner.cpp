#include "worker/task_runner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "worker/fault_injection.hpp"

namespace clusterd::worker {
namespace {

compute::JobOutput with_status(JobStatus status, std::string output = {}) {
    compute::JobOutput out;
    out.result.status = static_cast<std::uint32_t>(status);
    out.output = std::move(output);
    return out;
}

std::size_t capped(std::size_t own, std::uint64_t option) {
    return own == 0 ? static_cast<std::size_t>(option) : std::min<std::size_t>(own, static_cast<std::size_t>(option));
}

}  // namespace

TaskLimits task_limits(const detail::TaskSpec& task, const Config& config) {
    return {capped(task.options.max_input, config.task_max_input),
            capped(task.options.max_output, config.task_max_output),
            task.options.deadline.count() > 0 ? Millis{task.options.deadline.count()} : config.compute_timeout};
}

TaskRunner::TaskRunner(const detail::AppModel& app, const Config& config, bool obey_faults)
    : app_(app), config_(config), obey_faults_(obey_faults) {}

compute::JobOutput TaskRunner::operator()(const compute::Job& job) const {
    const JobParams params = job.params;  // one private copy
    if (params.task >= app_.tasks.size() || params.input_length != job.input.size()) {
        return with_status(JobStatus::invalid, "the job names no task of this application");
    }
    const detail::TaskSpec& task = app_.tasks[params.task];
    const TaskLimits limits = task_limits(task, config_);
    if (job.input.size() > limits.max_input) return with_status(JobStatus::invalid, "the job's input is over its limit");
    if (obey_faults_ && params.fault == static_cast<std::uint32_t>(JobFault::crash)) segfault();
    if (obey_faults_ && params.fault == static_cast<std::uint32_t>(JobFault::hang)) spin_forever();

    const auto start = std::chrono::steady_clock::now();
    compute::JobOutput out;
    try {
        out = with_status(JobStatus::ok, task.function(job.input));
    } catch (const BadInput& refused) {
        out = with_status(JobStatus::bad_input, refused.what());
    } catch (const std::exception& error) {
        spdlog::error("task {} threw: {}", task.name, error.what());
        out = with_status(JobStatus::failed, "task " + task.name + " failed");
    } catch (...) {
        spdlog::error("task {} threw something that is not a std::exception", task.name);
        out = with_status(JobStatus::failed, "task " + task.name + " failed");
    }
    const auto spent = std::chrono::steady_clock::now() - start;
    out.result.compute_us =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(spent).count());
    if (out.output.size() > limits.max_output) {
        spdlog::error("task {} answered {} bytes, over its output limit of {} bytes (--task-max-output): answered 502",
                      task.name, out.output.size(), limits.max_output);
        out.result.status = static_cast<std::uint32_t>(JobStatus::output_too_large);
        out.output.clear();
    }
    return out;
}

std::string TaskRunner::describe(const JobParams& params) const {
    const std::string name = params.task < app_.tasks.size() ? app_.tasks[params.task].name : "?";
    return "task " + name + " (" + std::to_string(params.input_length) + " bytes in)";
}

}  // namespace clusterd::worker
