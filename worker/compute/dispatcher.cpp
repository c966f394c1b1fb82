#include "worker/compute/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include "common/monotonic.hpp"

namespace clusterd::worker::compute {
namespace {

std::size_t kind_index(JobKind kind) {
    const auto value = static_cast<std::uint32_t>(kind);
    return value >= 1 && value <= job_kind_count ? value - 1 : 0;
}

}  // namespace

Dispatcher::Dispatcher(uv_loop_t* loop, Millis timeout, ComputeCounters* counters,
                       const BackendFactory& make_backend)
    : loop_(loop), timeout_(timeout), counters_(counters) {
    backend_ = make_backend([this](const Completion& completion) { on_completion(completion); });
    uv_timer_init(loop_, &deadline_timer_);
    deadline_timer_.data = this;
}

Dispatcher::~Dispatcher() {
    if (lifecycle_ != Lifecycle::closed) spdlog::error("BUG: compute dispatcher destroyed before it was closed");
}

std::variant<JobId, JobAnswer> Dispatcher::submit(const JobParams& params, AnswerCallback answer) {
    const auto kind = static_cast<JobKind>(params.kind);
    if (shedding_) {
        count(kind, JobOutcome::shed);
        return JobAnswer{JobOutcome::shed, {}};
    }
    const JobId id = next_id_++;
    const std::int64_t deadline = monotonic_ms() + timeout_.count();
    if (!backend_->enqueue(id, params, deadline)) {
        count(kind, JobOutcome::rejected);
        return JobAnswer{JobOutcome::rejected, {}};
    }
    pending_.emplace(id, Pending{std::move(answer), kind, deadline});
    deadlines_.emplace(deadline, id);
    arm_deadline_timer();
    publish_load();
    return id;
}

void Dispatcher::cancel(JobId id) {
    auto found = pending_.find(id);
    if (found == pending_.end()) return;
    // Not started: gone for good. Running: its result will be dropped.
    if (backend_->cancel(id)) count(found->second.kind, JobOutcome::cancelled);
    deadlines_.erase({found->second.deadline_ms, id});
    pending_.erase(found);
    publish_load();
}

void Dispatcher::shed_queued() {
    shedding_ = true;
    for (JobId id : backend_->stop()) {
        auto found = pending_.find(id);
        if (found == pending_.end()) continue;
        count(found->second.kind, JobOutcome::shed);
        answer(id, JobAnswer{JobOutcome::shed, {}});
    }
    publish_load();
}

std::vector<StuckJob> Dispatcher::stuck_jobs(std::int64_t now_ms, std::int64_t grace_ms) const {
    return backend_->stuck_jobs(now_ms, grace_ms);
}

void Dispatcher::on_completion(const Completion& completion) {
    auto found = pending_.find(completion.id);
    if (found == pending_.end()) {
        publish_load();  // answered already (504) or its client left
        return;
    }
    const JobKind kind = found->second.kind;
    if (monotonic_ms() > found->second.deadline_ms) {
        // Finished, but late: the inline executor blocks the loop, so its
        // deadline timer could not fire first. Late is late, whoever ran it.
        count(kind, JobOutcome::timed_out);
        answer(completion.id, JobAnswer{JobOutcome::timed_out, {}});
    } else if (completion.result.status == static_cast<std::uint32_t>(JobStatus::crashed)) {
        count(kind, JobOutcome::crashed);
        answer(completion.id, JobAnswer{JobOutcome::crashed, completion.result});
    } else {
        count(kind, JobOutcome::completed);
        observe_compute_time(completion.result.compute_us);
        answer(completion.id, JobAnswer{JobOutcome::completed, completion.result});
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
        count(found->second.kind, JobOutcome::timed_out);
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

void Dispatcher::count(JobKind kind, JobOutcome outcome) {
    if (counters_ == nullptr) return;
    counters_->jobs[kind_index(kind)][static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
}

void Dispatcher::observe_compute_time(std::uint64_t compute_us) {
    if (counters_ == nullptr) return;
    std::size_t bucket = 0;
    while (bucket < std::size(compute_bucket_bounds_us) && compute_us > compute_bucket_bounds_us[bucket]) ++bucket;
    counters_->compute_us_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    counters_->compute_us_sum.fetch_add(compute_us, std::memory_order_relaxed);
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
