// --compute=inline: jobs run on the event loop itself, one per loop
// iteration, the way a single-threaded Node.js server runs CPU work. While a
// job runs nothing else on this worker does: no accept, no /healthz, no
// heartbeat (a job longer than --hang-timeout gets the worker killed). It
// exists as the baseline the two other executors are measured against.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>

#include "worker/compute/backend.hpp"

namespace clusterd::worker::compute {

class InlineBackend final : public Backend {
public:
    InlineBackend(uv_loop_t* loop, std::size_t queue_capacity, CompletionSink sink, JobRunner runner);

    [[nodiscard]] bool enqueue(JobId id, Job job, std::int64_t deadline_ms) override;
    bool cancel(JobId id) override;
    [[nodiscard]] BackendLoad load() const override { return {queue_.size(), running_ ? 1u : 0u}; }
    // A job past its deadline on the loop cannot be seen from the loop: the
    // supervisor's watchdog sees the silent heartbeat instead.
    [[nodiscard]] std::vector<StuckJob> stuck_jobs(std::int64_t, std::int64_t) const override { return {}; }
    [[nodiscard]] std::vector<JobId> stop() override;
    void close(std::function<void()> closed) override;

private:
    struct Queued {
        JobId id;
        Job job;
    };
    static void on_idle(uv_idle_t* idle);
    void run_one();

    uv_idle_t idle_{};
    std::size_t capacity_;
    CompletionSink sink_;
    JobRunner runner_;
    std::deque<Queued> queue_;
    bool running_ = false;
    bool stopped_ = false;
    std::function<void()> closed_;
};

}  // namespace clusterd::worker::compute
