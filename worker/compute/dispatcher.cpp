#include "worker/compute/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include "common/monotonic.hpp"

namespace clusterd::worker::compute {
namespace {

void observe(LatencyCounters& histogram, std::uint64_t us) {
    std::size_t bucket = 0;
    while (bucket < std::size(compute_bucket_bounds_us) && us > compute_bucket_bounds_us[bucket]) ++bucket;
    histogram.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    histogram.sum_us.fetch_add(us, std::memory_order_relaxed);
}

}  // namespace

Dispatcher::Dispatcher(uv_loop_t* loop, Millis timeout, ComputeCounters* counters,
                       const BackendFactory& make_backend)
    : loop_(loop), timeout_(timeout), counters_(counters) {
    backend_ = make_backend([this](Completion& completion) { on_completion(completion); });
    uv_timer_init(loop_, &deadline_timer_);
    deadline_timer_.data = this;
}

Dispatcher::~Dispatcher() {
    if (lifecycle_ != Lifecycle::closed) spdlog::error("BUG: compute dispatcher destroyed before it was closed");
}

std::variant<JobId, JobAnswer> Dispatcher::submit(Job job, Millis timeout, AnswerCallback answer) {
    const std::uint32_t task = job.params.task;
    if (shedding_) {
        count(task, JobOutcome::shed);
        return JobAnswer{JobOutcome::shed, {}};
    }
    const JobId id = next_id_++;
    const std::int64_t deadline = monotonic_ms() + (timeout.count() > 0 ? timeout : timeout_).count();
    if (!backend_->enqueue(id, std::move(job), deadline)) {
        count(task, JobOutcome::rejected);
        return JobAnswer{JobOutcome::rejected, {}};
    }
    pending_.emplace(id, Pending{std::move(answer), task, deadline, monotonic_us()});
    deadlines_.emplace(deadline, id);
    arm_deadline_timer();
    publish_load();
    return id;
}

void Dispatcher::cancel(JobId id) {
    auto found = pending_.find(id);
    if (found == pending_.end()) return;
    // Not started: gone for good. Running: its result will be dropped.
    if (backend_->cancel(id)) count(found->second.task, JobOutcome::cancelled);
    deadlines_.erase({found->second.deadline_ms, id});
    pending_.erase(found);
    publish_load();
}

void Dispatcher::shed_queued() {
    shedding_ = true;
    for (JobId id : backend_->stop()) {
        auto found = pending_.find(id);
        if (found == pending_.end()) continue;
        count(found->second.task, JobOutcome::shed);
        answer(id, JobAnswer{JobOutcome::shed, {}});
    }
    publish_load();
}

std::vector<StuckJob> Dispatcher::stuck_jobs(std::int64_t now_ms, std::int64_t grace_ms) const {
    return backend_->stuck_jobs(now_ms, grace_ms);
}

void Dispatcher::on_completion(Completion& completion) {
    auto found = pending_.find(completion.id);
    if (found == pending_.end()) {
        publish_load();  // answered already (504) or its client left
        return;
    }
    const std::uint32_t task = found->second.task;
    const auto status = static_cast<JobStatus>(completion.output.result.status);
    if (monotonic_ms() > found->second.deadline_ms) {
        // Finished, but late: the inline executor blocks the loop, so its
        // deadline timer could not fire first. Late is late, whoever ran it.
        count(task, JobOutcome::timed_out);
        answer(completion.id, JobAnswer{JobOutcome::timed_out, {}});
    } else if (status == JobStatus::crashed) {
        count(task, JobOutcome::crashed);
        answer(completion.id, JobAnswer{JobOutcome::crashed, std::move(completion.output)});
    } else if (status != JobStatus::ok) {
        count(task, JobOutcome::failed);
        answer(completion.id, JobAnswer{JobOutcome::failed, std::move(completion.output)});
    } else {
        count(task, JobOutcome::completed);
        const std::uint64_t run_us = completion.output.result.compute_us;
        const auto elapsed = static_cast<std::uint64_t>(std::max<std::int64_t>(0, monotonic_us() - found->second.submitted_us));
        observe_times(task, run_us, elapsed > run_us ? elapsed - run_us : 0);
        answer(completion.id, JobAnswer{JobOutcome::completed, std::move(completion.output)});
    }
    publish_load();
}

void Dispatcher::on_deadline(uv_timer_t* timer) {
    auto* self = static_cast<Dispatcher*>(timer->data);
    self->expire(monotonic_ms());
    self->arm_deadline_timer();
}

void Dispatcher::expire(std::int64_t now_ms) {
    while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
        const JobId id = deadlines_.begin()->second;
        auto found = pending_.find(id);
        if (found == pending_.end()) {
            deadlines_.erase(deadlines_.begin());
            continue;
        }
        // A job that never started leaves the queue; a running one keeps its
        // executor busy, and the executor's own rules deal with that.
        (void)backend_->cancel(id);
        count(found->second.task, JobOutcome::timed_out);
        answer(id, JobAnswer{JobOutcome::timed_out, {}});
    }
    publish_load();
}

// Removes the job first: an answer callback may submit or cancel other jobs.
void Dispatcher::answer(JobId id, const JobAnswer& reply) {
    auto found = pending_.find(id);
    if (found == pending_.end()) return;
    AnswerCallback callback = std::move(found->second.answer);
    deadlines_.erase({found->second.deadline_ms, id});
    pending_.erase(found);
    if (callback) callback(reply);
}

void Dispatcher::arm_deadline_timer() {
    if (lifecycle_ != Lifecycle::open) return;
    if (deadlines_.empty()) {
        uv_timer_stop(&deadline_timer_);
        return;
    }
    const std::int64_t wait = std::max<std::int64_t>(0, deadlines_.begin()->first - monotonic_ms());
    uv_timer_start(&deadline_timer_, on_deadline, static_cast<std::uint64_t>(wait), 0);
}

void Dispatcher::count(std::uint32_t task, JobOutcome outcome) {
    if (counters_ == nullptr || task >= max_tasks) return;
    counters_->tasks[task].jobs[static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
}

void Dispatcher::observe_times(std::uint32_t task, std::uint64_t run_us, std::uint64_t wait_us) {
    if (counters_ == nullptr || task >= max_tasks) return;
    observe(counters_->tasks[task].run, run_us);
    observe(counters_->tasks[task].wait, wait_us);
}

void Dispatcher::publish_load() {
    if (counters_ == nullptr || !backend_) return;
    const BackendLoad load = backend_->load();
    counters_->queued.store(load.queued, std::memory_order_relaxed);
    counters_->running.store(load.running, std::memory_order_relaxed);
}

void Dispatcher::close(std::function<void()> closed) {
    if (lifecycle_ != Lifecycle::open) return;
    lifecycle_ = Lifecycle::closing;
    closed_ = std::move(closed);
    // Answers still owed go nowhere now: their connections are closing too.
    for (auto& [id, pending] : pending_) pending.answer = nullptr;
    open_handles_ = 2;
    uv_close(reinterpret_cast<uv_handle_t*>(&deadline_timer_),
             [](uv_handle_t* handle) { static_cast<Dispatcher*>(handle->data)->one_handle_closed(); });
    backend_->close([this] { one_handle_closed(); });
}

void Dispatcher::one_handle_closed() {
    if (--open_handles_ > 0) return;
    lifecycle_ = Lifecycle::closed;
    if (closed_) closed_();
}

}  // namespace clusterd::worker::compute
