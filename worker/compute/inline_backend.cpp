#include "worker/compute/inline_backend.hpp"

#include <algorithm>

namespace clusterd::worker::compute {

InlineBackend::InlineBackend(uv_loop_t* loop, std::size_t queue_capacity, CompletionSink sink, JobRunner runner)
    : capacity_(queue_capacity), sink_(std::move(sink)), runner_(std::move(runner)) {
    uv_idle_init(loop, &idle_);
    idle_.data = this;
}

bool InlineBackend::enqueue(JobId id, Job job, std::int64_t) {
    if (stopped_ || queue_.size() >= capacity_) return false;
    queue_.push_back({id, std::move(job)});
    // The idle callback runs after this loop iteration's I/O: requests that
    // arrived together are all parsed and queued before the first job blocks.
    uv_idle_start(&idle_, on_idle);
    return true;
}

bool InlineBackend::cancel(JobId id) {
    auto found = std::find_if(queue_.begin(), queue_.end(), [id](const Queued& job) { return job.id == id; });
    if (found == queue_.end()) return false;
    queue_.erase(found);
    return true;
}

std::vector<JobId> InlineBackend::stop() {
    stopped_ = true;
    std::vector<JobId> dropped;
    for (const auto& job : queue_) dropped.push_back(job.id);
    queue_.clear();
    return dropped;
}

void InlineBackend::on_idle(uv_idle_t* idle) { static_cast<InlineBackend*>(idle->data)->run_one(); }

// One job per loop iteration: between two jobs the loop polls for I/O
// (an active idle handle makes that poll non-blocking), so a probe queued
// behind a burst waits for one job, not for the whole burst.
void InlineBackend::run_one() {
    if (queue_.empty()) {
        uv_idle_stop(&idle_);
        return;
    }
    Queued job = std::move(queue_.front());
    queue_.pop_front();
    running_ = true;
    Completion completion{job.id, runner_(job.job)};
    running_ = false;
    if (queue_.empty()) uv_idle_stop(&idle_);
    sink_(completion);
}

void InlineBackend::close(std::function<void()> closed) {
    closed_ = std::move(closed);
    queue_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&idle_), [](uv_handle_t* handle) {
        auto* self = static_cast<InlineBackend*>(handle->data);
        if (self->closed_) self->closed_();
    });
}

}  // namespace clusterd::worker::compute
