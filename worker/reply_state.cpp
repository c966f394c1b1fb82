#include "worker/reply_state.hpp"

#include <spdlog/spdlog.h>

#include "worker/query.hpp"
#include "worker/task_runner.hpp"

namespace clusterd::worker {

// crash=1 / hang=1; "=0" is the same as leaving the flag out.
RequestFault request_fault(std::string_view query, bool fault_injection) {
    struct Flag {
        std::string_view name;
        JobFault fault;
    };
    RequestFault chosen;
    for (const Flag flag : {Flag{"crash", JobFault::crash}, Flag{"hang", JobFault::hang}}) {
        if (!query_raw_param(query, flag.name)) continue;
        auto value = query_uint(query, flag.name, 0, 1, 0);
        if (auto* error = std::get_if<std::string>(&value)) return {JobFault::none, std::move(*error)};
        if (std::get<std::uint64_t>(value) == 0) continue;
        if (!fault_injection) {
            return {JobFault::none, std::string(flag.name) + "=1 needs the daemon started with --enable-fault-injection"};
        }
        if (chosen.fault != JobFault::none) return {JobFault::none, "crash=1 and hang=1 cannot be combined"};
        chosen.fault = flag.fault;
    }
    return chosen;
}

TaskResult task_result(const compute::JobAnswer& answer, const std::string& task, Millis timeout, bool own_deadline) {
    switch (answer.outcome) {
        case JobOutcome::completed:
            return {TaskOutcome::ok, answer.output.output, {}};
        case JobOutcome::failed:
            switch (static_cast<JobStatus>(answer.output.result.status)) {
                case JobStatus::bad_input:
                    return {TaskOutcome::bad_input, {}, answer.output.output};
                case JobStatus::output_too_large:
                    return {TaskOutcome::output_too_large, {},
                            "task " + task + " answered more than its output limit (--task-max-output)"};
                case JobStatus::failed:
                    return {TaskOutcome::failed, {}, answer.output.output};
                default:
                    return {TaskOutcome::failed, {}, "task " + task + " was refused by its executor"};
            }
        case JobOutcome::crashed:
            return {TaskOutcome::crashed, {},
                    "the executor running task " + task + " died; other requests are unaffected"};
        case JobOutcome::timed_out:
            return {TaskOutcome::timed_out, {},
                    "task " + task + " did not finish within " + (own_deadline ? "its deadline" : "--compute-timeout") +
                        " (" + format_duration(timeout) + ")"};
        case JobOutcome::rejected:
            return {TaskOutcome::rejected, {}, "the compute queue is full; retry shortly"};
        case JobOutcome::shed:
        case JobOutcome::cancelled:
            return {TaskOutcome::shutting_down, {}, "this worker is shutting down; retry"};
    }
    return {TaskOutcome::failed, {}, "unknown job outcome"};
}

}  // namespace clusterd::worker

namespace clusterd::detail {

struct ReplyState::Timer {
    uv_timer_t handle{};
    std::shared_ptr<ReplyState> state;
    std::function<void(Reply)> then;
};

ReplyState::ReplyState(worker::ReplyTarget& target, const worker::ReplyServices& services,
                       worker::RequestFault fault, std::string what)
    : target_(&target), services_(services), fault_(std::move(fault)), what_(std::move(what)) {}

ReplyState::~ReplyState() {
    if (target_ == nullptr) return;
    spdlog::error("{}: the handler dropped its reply without answering; answered 500", what_);
    std::exchange(target_, nullptr)->deliver(Response::text(500, "the handler did not answer"));
}

void ReplyState::send(Response response) {
    if (target_ == nullptr) return;
    const auto keep = shared_from_this();  // as in detach(): the job's callback may hold the last reference
    close_timers();
    if (job_) services_.dispatcher.cancel(*std::exchange(job_, std::nullopt));
    std::exchange(target_, nullptr)->deliver(response);
}

void ReplyState::detach() {
    // The connection holds no reference: cancelling the job drops the one
    // its callback held, which may be the last. Stay alive to the end.
    const auto keep = shared_from_this();
    target_ = nullptr;
    if (job_) services_.dispatcher.cancel(*std::exchange(job_, std::nullopt));
    close_timers();
}

void ReplyState::run_task(std::string_view task, std::string input, std::function<void(Reply, TaskResult)> done) {
    if (target_ == nullptr) return;
    auto self = shared_from_this();
    const auto index = services_.app.task_index(task);
    if (!index) {
        spdlog::error("{}: run_task() names no task '{}'", what_, task);
        done(Reply(self), {TaskOutcome::failed, {}, "no task named " + std::string(task)});
        return;
    }
    if (fault_.refusal) {
        done(Reply(self), {TaskOutcome::bad_input, {}, *fault_.refusal});
        return;
    }
    const auto& spec = services_.app.tasks[*index];
    const worker::TaskLimits limits = worker::task_limits(spec, services_.config);
    if (input.size() > limits.max_input) {
        done(Reply(self), {TaskOutcome::input_too_large, {},
                           "task " + spec.name + " takes at most " + std::to_string(limits.max_input) +
                               " bytes of input, not " + std::to_string(input.size())});
        return;
    }
    worker::compute::Job job;
    job.params.task = *index;
    job.params.fault = static_cast<std::uint32_t>(fault_.fault);
    job.params.input_length = static_cast<std::uint32_t>(input.size());
    job.input = std::move(input);
    std::string name = spec.name;
    auto submitted = services_.dispatcher.submit(
        std::move(job), limits.deadline,
        [self, name, done](const worker::compute::JobAnswer& answer) {
            self->job_.reset();
            self->finish_task(name, answer, done);
        });
    if (auto* now = std::get_if<worker::compute::JobAnswer>(&submitted)) {
        finish_task(name, *now, done);
        return;
    }
    job_ = std::get<worker::compute::JobId>(submitted);
}

void ReplyState::finish_task(const std::string& task, const worker::compute::JobAnswer& answer,
                             const std::function<void(Reply, TaskResult)>& done) {
    if (target_ == nullptr) return;
    const auto index = services_.app.task_index(task);
    const detail::TaskSpec* spec = index ? &services_.app.tasks[*index] : nullptr;
    const Millis deadline = spec ? worker::task_limits(*spec, services_.config).deadline : services_.config.compute_timeout;
    TaskResult result = worker::task_result(answer, task, deadline, spec && spec->options.deadline.count() > 0);
    if (result.outcome == TaskOutcome::crashed) {
        spdlog::error("task {} crashed its executor while serving {}; answered 502", task, what_);
    }
    try {
        done(Reply(shared_from_this()), std::move(result));
    } catch (const std::exception& error) {
        spdlog::error("{}: the callback of task {} threw: {}; answered 500", what_, task, error.what());
        send(Response::text(500, "internal error"));
    }
}

void ReplyState::after(std::chrono::milliseconds delay, std::function<void(Reply)> then) {
    if (target_ == nullptr) return;
    auto* timer = new Timer{};
    timer->state = shared_from_this();
    timer->then = std::move(then);
    timer->handle.data = timer;
    uv_timer_init(services_.loop, &timer->handle);
    timers_.insert(timer);
    uv_timer_start(
        &timer->handle,
        [](uv_timer_t* handle) {
            auto* fired = static_cast<Timer*>(handle->data);
            auto state = fired->state;
            auto callback = std::move(fired->then);
            state->timers_.erase(fired);
            uv_close(reinterpret_cast<uv_handle_t*>(handle),
                     [](uv_handle_t* closed) { delete static_cast<Timer*>(closed->data); });
            if (state->target_ == nullptr) return;
            try {
                callback(Reply(state));
            } catch (const std::exception& error) {
                spdlog::error("{}: a timer callback threw: {}; answered 500", state->what_, error.what());
                state->send(Response::text(500, "internal error"));
            }
        },
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, delay.count())), 0);
}

// Closing is asynchronous: each Timer (and its hold on this state) goes in its close callback.
void ReplyState::close_timers() {
    for (Timer* timer : std::exchange(timers_, {})) {
        timer->then = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(&timer->handle),
                 [](uv_handle_t* closed) { delete static_cast<Timer*>(closed->data); });
    }
}

}  // namespace clusterd::detail

namespace clusterd {

void Reply::send(Response response) { state_->send(std::move(response)); }
bool Reply::pending() const { return state_->pending(); }
void Reply::run_task(std::string_view task, std::string input, std::function<void(Reply, TaskResult)> done) {
    state_->run_task(task, std::move(input), std::move(done));
}
void Reply::after(std::chrono::milliseconds delay, std::function<void(Reply)> then) {
    state_->after(delay, std::move(then));
}

Response task_response(const TaskResult& result, std::string_view content_type) {
    switch (result.outcome) {
        case TaskOutcome::ok: {
            Response response{200, std::string(content_type), result.output, {}};
            return response;
        }
        case TaskOutcome::bad_input: return Response::text(400, result.error);
        case TaskOutcome::input_too_large: return Response::text(413, result.error);
        case TaskOutcome::failed: return Response::text(500, result.error);
        case TaskOutcome::output_too_large:
        case TaskOutcome::crashed: return Response::text(502, result.error);
        case TaskOutcome::timed_out: return Response::text(504, result.error);
        case TaskOutcome::rejected:
        case TaskOutcome::shutting_down: {
            Response busy = Response::text(503, result.error);
            busy.headers.emplace_back("Retry-After", "1");
            return busy;
        }
    }
    return Response::text(500, "unknown task outcome");
}

}  // namespace clusterd
