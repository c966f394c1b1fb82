// --compute=threads: a fixed pool of threads inside the HTTP worker runs the
// jobs, fed from a bounded FIFO, the way Node's worker_threads or libuv's own
// threadpool would, but with a queue bound of our choosing and threads that
// yield the CPU to the event loop (--compute-policy, scheduling.hpp) when
// both want it.
//
// Threading: the Backend methods, the constructor and the destructor run on
// the loop thread; the sink is called on the loop thread, from one uv_async_t
// that the pool threads signal. What the pool threads touch lives in a Pool
// they co-own, so a thread abandoned at close() (a hang fault) can never
// outlive the memory it uses.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "worker/compute/backend.hpp"
#include "worker/compute/scheduling.hpp"

namespace clusterd::worker::compute {

class ThreadsBackend final : public Backend {
public:
    // Called on each pool thread before it takes work (the application's
    // compute hooks); what it throws fails the constructor.
    using ThreadStart = std::function<void()>;

    // Starts `threads` threads (at least 1) named compute-0, compute-1, ...,
    // and waits until each ran thread_start. queue_capacity bounds the jobs
    // waiting for a thread, not the running ones: at most threads +
    // queue_capacity jobs are in flight. Throws std::runtime_error if the
    // uv_async_t or a thread cannot be created, or a thread_start threw
    // (start-up, where an exception becomes an exit code).
    ThreadsBackend(uv_loop_t* loop, unsigned threads, std::size_t queue_capacity, CompletionSink sink,
                   JobRunner runner, ThreadStart thread_start = {}, Scheduling scheduling = {});
    // close() must have finished (its callback ran) first.
    ~ThreadsBackend() override;

    ThreadsBackend(const ThreadsBackend&) = delete;
    ThreadsBackend& operator=(const ThreadsBackend&) = delete;

    [[nodiscard]] bool enqueue(JobId id, Job job, std::int64_t deadline_ms) override;
    bool cancel(JobId id) override;
    [[nodiscard]] BackendLoad load() const override;
    [[nodiscard]] std::vector<StuckJob> stuck_jobs(std::int64_t now_ms, std::int64_t grace_ms) const override;
    [[nodiscard]] std::vector<JobId> stop() override;
    // Joins the idle threads; one still running a job cannot be joined, so it
    // is detached and logged as abandoned (the process is about to exit).
    // Completions already finished are delivered before the uv_async_t is
    // closed; `closed` runs from its close callback.
    void close(std::function<void()> closed) override;

private:
    struct Pool;  // what the pool threads share with the loop; in the .cpp
    struct Cell;  // one job's place in the pool
    enum class Lifecycle { open, closing, closed };

    static void run_thread(const std::shared_ptr<Pool>& pool, unsigned index);
    static void on_completions(uv_async_t* handle);
    static void on_async_closed(uv_handle_t* handle);
    void start_threads(unsigned count, const ThreadStart& thread_start);
    void release_threads();
    void deliver_completions();
    void join_or_abandon_threads();
    // The uv_async_t keeps the loop alive only while jobs are in flight, as
    // uv_queue_work does: an idle pool does not hold a finished loop open.
    void update_loop_reference();

    uv_loop_t* loop_;
    CompletionSink sink_;
    std::size_t queue_capacity_;
    unsigned thread_count_;
    std::shared_ptr<Pool> pool_;
    // Loop-thread bookkeeping, never touched by a pool thread.
    std::vector<std::uint32_t> free_cells_;
    // In flight (accepted, not yet delivered or cancelled), and the cell of each.
    std::unordered_map<JobId, std::uint32_t> outstanding_;
    std::vector<std::thread> threads_;
    uv_async_t* async_ = nullptr;  // owned; freed in on_async_closed
    std::function<void()> on_closed_;
    bool stopped_ = false;
    Lifecycle lifecycle_ = Lifecycle::open;
};

}  // namespace clusterd::worker::compute
