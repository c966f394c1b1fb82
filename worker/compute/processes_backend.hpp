// --compute=processes, the HTTP worker's side: jobs go into the shared job
// ring (common/job_ring.hpp), compute processes run them, and results come
// back through the ring. The supervisor bumps or a compute process writes
// this worker's result eventfd (inherited at fd 7) when a result is waiting;
// the loop polls that fd, so waiting costs nothing.
//
// The ring's capacity (--compute-queue + --compute-processes) is shared by
// the whole cluster: "full" means the cluster's queue is full.
#pragma once

#include <uv.h>

#include <unordered_map>

#include "common/child_contract.hpp"
#include "common/job_ring.hpp"
#include "worker/compute/backend.hpp"

namespace clusterd::worker::compute {

// Where the supervisor puts an HTTP worker's result eventfd.
inline constexpr int result_wake_fd = child::first_result_fd;

class ProcessesBackend final : public Backend {
public:
    ProcessesBackend(uv_loop_t* loop, JobRing ring, std::uint32_t slot, std::uint64_t generation, int wake_fd,
                     CompletionSink sink);

    [[nodiscard]] bool enqueue(JobId id, Job job, std::int64_t deadline_ms) override;
    bool cancel(JobId id) override;
    [[nodiscard]] BackendLoad load() const override;
    // The supervisor kills a compute process stuck past a deadline; nothing to do here.
    [[nodiscard]] std::vector<StuckJob> stuck_jobs(std::int64_t, std::int64_t) const override { return {}; }
    [[nodiscard]] std::vector<JobId> stop() override;
    void close(std::function<void()> closed) override;

private:
    static void on_wake(uv_poll_t* poll, int status, int events);
    void collect();

    JobRing ring_;
    std::uint32_t slot_;
    std::uint64_t generation_;
    int wake_fd_;
    uv_poll_t wake_{};
    bool polling_ = false;
    CompletionSink sink_;
    std::unordered_map<JobId, JobTicket> submitted_;  // until their result is collected
    bool stopped_ = false;
    std::function<void()> closed_;
};

}  // namespace clusterd::worker::compute
