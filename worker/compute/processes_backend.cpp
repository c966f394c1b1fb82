#include "worker/compute/processes_backend.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

namespace clusterd::worker::compute {

ProcessesBackend::ProcessesBackend(uv_loop_t* loop, JobRing ring, std::uint32_t slot, std::uint64_t generation,
                                   int wake_fd, CompletionSink sink)
    : ring_(ring), slot_(slot), generation_(generation), wake_fd_(wake_fd), sink_(std::move(sink)) {
    wake_.data = this;
    if (int rc = uv_poll_init(loop, &wake_, wake_fd_); rc != 0) {
        // Results would then only reach us at their deadline (504): say so loudly.
        spdlog::critical("uv_poll_init() failed on the job ring's result eventfd (fd {}): {}", wake_fd_,
                         uv_strerror(rc));
        return;
    }
    polling_ = true;
    uv_poll_start(&wake_, UV_READABLE, on_wake);
}

bool ProcessesBackend::enqueue(JobId id, Job job, std::int64_t deadline_ms) {
    if (stopped_) return false;
    auto ticket = ring_.submit(slot_, generation_, id, job.params, deadline_ms, job.input);
    if (!ticket) return false;
    submitted_.emplace(id, *ticket);
    return true;
}

bool ProcessesBackend::cancel(JobId id) {
    auto found = submitted_.find(id);
    if (found == submitted_.end() || !ring_.cancel(found->second)) return false;
    submitted_.erase(found);
    return true;
}

BackendLoad ProcessesBackend::load() const {
    std::uint64_t running = 0;
    ring_.for_each_running([&](const RunningJob& job) {
        if (job.requester.slot == slot_ && job.requester.generation == generation_) ++running;
    });
    const std::uint64_t waiting = submitted_.size();
    return {waiting > running ? waiting - running : 0, running};
}

std::vector<JobId> ProcessesBackend::stop() {
    stopped_ = true;
    std::vector<JobId> dropped;
    for (auto it = submitted_.begin(); it != submitted_.end();) {
        if (ring_.cancel(it->second)) {
            dropped.push_back(it->first);
            it = submitted_.erase(it);
        } else {
            ++it;
        }
    }
    return dropped;
}

void ProcessesBackend::on_wake(uv_poll_t* poll, int status, int) {
    auto* self = static_cast<ProcessesBackend*>(poll->data);
    std::uint64_t count = 0;
    // Reading resets the eventfd: one wake-up covers every result so far.
    if (status == 0) (void)!::read(self->wake_fd_, &count, sizeof count);
    self->collect();
}

void ProcessesBackend::collect() {
    std::vector<Completion> finished;
    ring_.collect(slot_, generation_, [&](std::uint64_t job_id, const JobResult& result, std::string_view output) {
        submitted_.erase(job_id);
        finished.push_back(Completion{job_id, JobOutput{result, std::string(output)}});
    });
    // The sink runs after the scan: it may submit new jobs into the ring.
    for (auto& completion : finished) sink_(completion);
}

void ProcessesBackend::close(std::function<void()> closed) {
    closed_ = std::move(closed);
    // Jobs still in the ring are released by the supervisor when it reaps us.
    if (!polling_) {
        closed_();
        return;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_), [](uv_handle_t* handle) {
        auto* self = static_cast<ProcessesBackend*>(handle->data);
        if (self->closed_) self->closed_();
    });
}

}  // namespace clusterd::worker::compute
