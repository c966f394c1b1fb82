// The one policy every executor (inline, threads, processes) runs under:
//   - a bounded queue: a job the Backend has no room for is answered 503 at once;
//   - a deadline (--compute-timeout): a job not finished by then is answered
//     504, and its late result is dropped; the executor is dealt with by its
//     own rules (a thread past its deadline asks for the worker's recycling,
//     a compute process is killed by the supervisor);
//   - a client that leaves before its job started cancels it;
//   - draining: queued jobs are answered 503 at once, running ones finish.
// It also keeps the worker's compute counters in its scoreboard slot.
//
// Everything here runs on the worker's loop thread. Each accepted job gets
// exactly one answer (or none, once cancelled).
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <variant>

#include "common/shm_layout.hpp"
#include "common/units.hpp"
#include "worker/compute/backend.hpp"

namespace clusterd::worker::compute {

struct JobAnswer {
    JobOutcome outcome = JobOutcome::completed;
    JobOutput output;  // meaningful when completed, crashed or failed
};
using AnswerCallback = std::function<void(const JobAnswer&)>;

class Dispatcher {
public:
    using BackendFactory = std::function<std::unique_ptr<Backend>(CompletionSink)>;

    // counters may be null (no scoreboard).
    Dispatcher(uv_loop_t* loop, Millis timeout, ComputeCounters* counters, const BackendFactory& make_backend);
    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;
    ~Dispatcher();

    // Accepted: the job's id; `answer` is called later, on the loop, exactly
    // once unless cancel() comes first. Refused (queue full, draining): the
    // answer itself, now; `answer` is never called. timeout: the job's own
    // deadline; zero takes the dispatcher's (--compute-timeout).
    [[nodiscard]] std::variant<JobId, JobAnswer> submit(Job job, Millis timeout, AnswerCallback answer);

    // The client left: its answer is dropped, and a job that had not started is removed.
    void cancel(JobId id);

    // The worker drains: queued jobs are answered `shed` now, running ones
    // finish, and nothing new is accepted.
    void shed_queued();

    // Jobs still running more than grace_ms after their deadline.
    [[nodiscard]] std::vector<StuckJob> stuck_jobs(std::int64_t now_ms, std::int64_t grace_ms) const;

    [[nodiscard]] std::size_t waiting_for_answer() const { return pending_.size(); }

    // Copies the executor's queued/running counts into the scoreboard. Called
    // on every change seen here, and periodically by the worker, because a
    // job moving from queued to running happens on the executor's side.
    void publish_load();

    // Closes the backend and the timer; `closed` runs once both are gone.
    void close(std::function<void()> closed);

private:
    struct Pending {
        AnswerCallback answer;
        std::uint32_t task;
        std::int64_t deadline_ms;
        std::int64_t submitted_us;
    };

    static void on_deadline(uv_timer_t* timer);
    void on_completion(Completion& completion);
    void expire(std::int64_t now_ms);
    void answer(JobId id, const JobAnswer& reply);
    void count(std::uint32_t task, JobOutcome outcome);
    void observe_times(std::uint32_t task, std::uint64_t run_us, std::uint64_t wait_us);
    void arm_deadline_timer();
    void one_handle_closed();

    enum class Lifecycle { open, closing, closed };

    uv_loop_t* loop_;
    Millis timeout_;
    ComputeCounters* counters_;
    std::unique_ptr<Backend> backend_;
    uv_timer_t deadline_timer_{};
    std::map<JobId, Pending> pending_;
    std::set<std::pair<std::int64_t, JobId>> deadlines_;  // earliest first
    JobId next_id_ = 1;
    bool shedding_ = false;
    Lifecycle lifecycle_ = Lifecycle::open;
    int open_handles_ = 0;
    std::function<void()> closed_;
};

}  // namespace clusterd::worker::compute
