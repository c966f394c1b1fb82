// The pool: a fixed set of job cells, handed between the loop and the pool
// threads through two IndexRings (index_ring.hpp): `queued` (loop → threads,
// in FIFO order) and `finished` (threads → loop), plus one uv_async_t that
// wakes the loop. The loop thread never takes a lock a pool thread can hold:
// the threads serialize among themselves on each ring's far side, and
// everything the loop reads of theirs is an atomic. Only the loop thread
// calls the sink or touches libuv state (uv_async_send is the one libuv call
// that is safe from another thread).
//
// A cell's life: free (on the loop's free list) → queued (filled by the loop,
// pushed on `queued`) → running (a thread won the CAS) → done (result written,
// pushed on `finished`) → free again when the loop has delivered it. A queued
// cell the loop cancels goes queued → cancelled; the thread that pops it hands
// it straight back on `finished`, and the loop frees it without a delivery.
// Every transition out of queued is a CAS, so a job is either run or
// cancelled, never both.
#include "worker/compute/threads_backend.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <condition_variable>
#include <mutex>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <system_error>

#include "common/monotonic.hpp"
#include "worker/compute/index_ring.hpp"

namespace clusterd::worker::compute {

enum class CellState : std::uint32_t { free, queued, cancelled, running, done };

struct ThreadsBackend::Cell {
    std::atomic<CellState> state{CellState::free};
    // Written by the loop while the cell is free, read by a thread after it
    // popped the index (the ring's release/acquire orders them).
    JobId id = 0;
    Job job;
    std::int64_t deadline_ms = 0;
    std::atomic<std::int64_t> started_ms{0};  // by the thread that runs it; read by stuck_jobs()
    JobOutput output;                         // by that thread, before it publishes the cell done
};

struct ThreadsBackend::Pool {
    Pool(JobRunner job_runner, std::size_t cell_count)
        : runner(std::move(job_runner)), cells(cell_count), queued(cell_count), finished(cell_count) {}

    const JobRunner runner;  // never changes after construction
    std::vector<Cell> cells;
    IndexRing queued;    // loop → threads; the threads pop under take_mutex
    IndexRing finished;  // threads → loop; the threads push under give_mutex
    std::mutex take_mutex;
    std::mutex give_mutex;  // also guards `async` against close()
    std::counting_semaphore<> work{0};  // one release per queued cell, and one per thread at closing
    std::atomic<bool> closing{false};
    std::atomic<std::uint64_t> waiting{0};  // cells queued and not yet taken or cancelled
    std::atomic<std::uint64_t> running{0};
    uv_async_t* async = nullptr;  // under give_mutex; null once close() began
    Scheduling scheduling;  // set before the threads start
    // Start-up only: the constructor waits until every thread ran this.
    std::function<void()> thread_start;
    std::mutex start_mutex;
    std::condition_variable started;
    unsigned threads_started = 0;  // under start_mutex
    std::string start_failure;     // under start_mutex: what the first failing hook threw
};

namespace {

// Each pool thread lowers its own priority (scheduling.hpp) before it takes
// work; a refusal is logged once, and the thread runs as the loop does.
void lower_own_priority(const Scheduling& scheduling) {
    static std::atomic<bool> warned{false};
    const auto error = apply_to_this_thread(scheduling);
    if (!error || warned.exchange(true)) return;
    spdlog::warn("{} failed while lowering a compute thread's priority; compute threads compete with the event "
                 "loop as equals",
                 *error);
}

void name_own_thread(unsigned index) {
    const std::string name = "compute-" + std::to_string(index);  // <= 15 bytes up to index 99999999
    pthread_setname_np(pthread_self(), name.c_str());
}

// A runner that throws must not take the process down with std::terminate;
// the job is reported as crashed (a 502), which is what it did. (The
// application's own exceptions are caught closer, by the TaskRunner: 500.)
[[nodiscard]] JobOutput run_guarded(const JobRunner& runner, JobId id, const Job& job) {
    try {
        return runner(job);
    } catch (const std::exception& error) {
        spdlog::error("compute job {} threw on a pool thread: {}", id, error.what());
    }
    JobOutput crashed;
    crashed.result.status = static_cast<std::uint32_t>(JobStatus::crashed);
    return crashed;
}

[[nodiscard]] uv_handle_t* as_handle(uv_async_t* async) { return reinterpret_cast<uv_handle_t*>(async); }

}  // namespace

void ThreadsBackend::run_thread(const std::shared_ptr<Pool>& pool, unsigned index) {
    name_own_thread(index);
    lower_own_priority(pool->scheduling);
    {
        // The hook runs before this thread takes work; the constructor waits for it.
        std::string failure;
        if (pool->thread_start) {
            try {
                pool->thread_start();
            } catch (const std::exception& error) {
                failure = error.what();
            } catch (...) {
                failure = "an exception that is not a std::exception";
            }
        }
        const std::lock_guard lock(pool->start_mutex);
        if (!failure.empty() && pool->start_failure.empty()) pool->start_failure = std::move(failure);
        ++pool->threads_started;
        pool->started.notify_all();
    }
    for (;;) {
        pool->work.acquire();
        if (pool->closing.load(std::memory_order_acquire)) return;
        std::optional<std::uint32_t> taken;
        {
            const std::lock_guard lock(pool->take_mutex);
            taken = pool->queued.pop();
        }
        if (!taken) continue;  // cannot happen: one release per push
        Cell& cell = pool->cells[*taken];
        CellState expected = CellState::queued;
        if (cell.state.compare_exchange_strong(expected, CellState::running, std::memory_order_acq_rel)) {
            pool->waiting.fetch_sub(1, std::memory_order_relaxed);
            pool->running.fetch_add(1, std::memory_order_relaxed);
            cell.started_ms.store(monotonic_ms(), std::memory_order_relaxed);
            cell.output = run_guarded(pool->runner, cell.id, cell.job);
            cell.job.input = std::string();  // the cell's memory goes back with it, not the input's
            pool->running.fetch_sub(1, std::memory_order_relaxed);
            cell.state.store(CellState::done, std::memory_order_release);
        }
        // Done or cancelled, the cell goes back to the loop.
        const std::lock_guard lock(pool->give_mutex);
        pool->finished.push(*taken);
        if (pool->async != nullptr) uv_async_send(pool->async);
    }
}

ThreadsBackend::ThreadsBackend(uv_loop_t* loop, unsigned threads, std::size_t queue_capacity, CompletionSink sink,
                               JobRunner runner, ThreadStart thread_start, Scheduling scheduling)
    : loop_(loop),
      sink_(std::move(sink)),
      queue_capacity_(queue_capacity),
      thread_count_(std::max(threads, 1U)),
      // Twice the jobs that may be in flight: a cancelled cell stays out
      // until a thread pops it, and must not cost a new job its place.
      pool_(std::make_shared<Pool>(std::move(runner), 2 * (queue_capacity + thread_count_))) {
    free_cells_.reserve(pool_->cells.size());
    for (std::size_t i = pool_->cells.size(); i-- > 0;) free_cells_.push_back(static_cast<std::uint32_t>(i));
    auto async = std::make_unique<uv_async_t>();
    if (const int rc = uv_async_init(loop_, async.get(), on_completions); rc != 0) {
        throw std::runtime_error(std::string("uv_async_init() failed while starting the compute threads: ") +
                                 uv_strerror(rc));
    }
    async_ = async.release();
    async_->data = this;
    uv_unref(as_handle(async_));
    pool_->async = async_;
    pool_->scheduling = scheduling;
    start_threads(thread_count_, thread_start);
}

void ThreadsBackend::start_threads(unsigned count, const ThreadStart& thread_start) {
    pool_->thread_start = thread_start;
    threads_.reserve(count);
    std::string failure;
    try {
        for (unsigned index = 0; index < count; ++index) threads_.emplace_back(run_thread, pool_, index);
    } catch (const std::system_error& error) {
        failure = "std::thread failed while starting compute thread " + std::to_string(threads_.size()) + ": " +
                  error.what();
    }
    {
        std::unique_lock lock(pool_->start_mutex);
        pool_->started.wait(lock, [&] { return pool_->threads_started == threads_.size(); });
        if (failure.empty() && !pool_->start_failure.empty()) {
            failure = "a compute start hook threw on a compute thread: " + pool_->start_failure;
        }
    }
    if (failure.empty()) return;
    // The destructor will not run for a constructor that throws: undo here.
    release_threads();
    for (auto& thread : threads_) thread.join();
    async_->data = nullptr;
    uv_close(as_handle(async_), on_async_closed);
    throw std::runtime_error(failure);
}

// Tells every thread to leave and stops results from reaching the handle.
void ThreadsBackend::release_threads() {
    pool_->closing.store(true, std::memory_order_release);
    {
        const std::lock_guard lock(pool_->give_mutex);
        pool_->async = nullptr;
    }
    pool_->work.release(static_cast<std::ptrdiff_t>(threads_.size()));
}

ThreadsBackend::~ThreadsBackend() {
    if (lifecycle_ == Lifecycle::closed) return;
    spdlog::critical("compute threads destroyed before close() finished: a bug; their threads are abandoned");
    assert(lifecycle_ == Lifecycle::closed && "ThreadsBackend destroyed before close() called back");
    release_threads();
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.detach();
    }
    // The loop still points at the handle: let it free itself without us.
    async_->data = nullptr;
    if (lifecycle_ == Lifecycle::open) uv_close(as_handle(async_), on_async_closed);
}

bool ThreadsBackend::enqueue(JobId id, Job job, std::int64_t deadline_ms) {
    if (stopped_ || lifecycle_ != Lifecycle::open) return false;
    // An idle thread takes a waiting job at once, so it adds a place: the
    // bound is threads + queue_capacity in flight, whether or not the idle
    // threads have woken up yet.
    if (outstanding_.size() >= queue_capacity_ + thread_count_ || free_cells_.empty()) return false;
    const std::uint32_t index = free_cells_.back();
    Cell& cell = pool_->cells[index];
    cell.id = id;
    cell.job = std::move(job);
    cell.deadline_ms = deadline_ms;
    cell.started_ms.store(0, std::memory_order_relaxed);
    cell.state.store(CellState::queued, std::memory_order_relaxed);  // published by the push below
    if (!pool_->queued.push(index)) {  // sized to hold every cell: cannot happen
        cell.state.store(CellState::free, std::memory_order_relaxed);
        return false;
    }
    free_cells_.pop_back();
    outstanding_.emplace(id, index);
    pool_->waiting.fetch_add(1, std::memory_order_relaxed);
    pool_->work.release();
    update_loop_reference();
    return true;
}

bool ThreadsBackend::cancel(JobId id) {
    const auto found = outstanding_.find(id);
    if (found == outstanding_.end()) return false;
    CellState expected = CellState::queued;
    if (!pool_->cells[found->second].state.compare_exchange_strong(expected, CellState::cancelled,
                                                                   std::memory_order_acq_rel)) {
        return false;  // a thread took it first: it runs, and completes
    }
    pool_->waiting.fetch_sub(1, std::memory_order_relaxed);
    outstanding_.erase(found);  // the cell comes back through `finished`, undelivered
    update_loop_reference();
    return true;
}

BackendLoad ThreadsBackend::load() const {
    return BackendLoad{pool_->waiting.load(std::memory_order_relaxed), pool_->running.load(std::memory_order_relaxed)};
}

std::vector<StuckJob> ThreadsBackend::stuck_jobs(std::int64_t now_ms, std::int64_t grace_ms) const {
    std::vector<StuckJob> stuck;
    for (const auto& [id, index] : outstanding_) {
        const Cell& cell = pool_->cells[index];
        if (cell.state.load(std::memory_order_acquire) != CellState::running) continue;
        const std::int64_t started = cell.started_ms.load(std::memory_order_relaxed);
        if (cell.deadline_ms + grace_ms < now_ms) stuck.push_back(StuckJob{id, now_ms - started});
    }
    return stuck;
}

std::vector<JobId> ThreadsBackend::stop() {
    stopped_ = true;
    std::vector<JobId> dropped;
    for (const auto& [id, index] : outstanding_) {
        if (pool_->cells[index].state.load(std::memory_order_acquire) == CellState::queued) dropped.push_back(id);
    }
    // In the order they were accepted, like the queue they leave.
    std::sort(dropped.begin(), dropped.end());
    std::erase_if(dropped, [this](JobId id) { return !cancel(id); });
    return dropped;
}

void ThreadsBackend::close(std::function<void()> closed) {
    if (lifecycle_ != Lifecycle::open) {
        spdlog::error("compute threads: close() called twice; the second call is ignored");
        return;
    }
    lifecycle_ = Lifecycle::closing;
    stopped_ = true;
    on_closed_ = std::move(closed);
    join_or_abandon_threads();
    // Results that made it before the handle went away are still owed to
    // the sink: an accepted job is reported exactly once.
    deliver_completions();
    uv_close(as_handle(async_), on_async_closed);
}

void ThreadsBackend::join_or_abandon_threads() {
    std::size_t never_started = 0;
    for (const auto& [id, index] : outstanding_) {
        if (pool_->cells[index].state.load(std::memory_order_acquire) == CellState::queued) ++never_started;
    }
    release_threads();
    if (never_started > 0) {
        spdlog::warn("compute threads closed with {} queued jobs never started (stop() was not called)", never_started);
    }
    // A thread is busy while its cell runs; which thread holds which cell is
    // not recorded, so join in order and give up on the busy count instead:
    // the threads that are idle or take only cancelled cells end at once.
    std::size_t busy = 0;
    std::int64_t longest_ms = 0;
    const std::int64_t now = monotonic_ms();
    for (const auto& [id, index] : outstanding_) {
        const Cell& cell = pool_->cells[index];
        if (cell.state.load(std::memory_order_acquire) != CellState::running) continue;
        ++busy;
        longest_ms = std::max(longest_ms, now - cell.started_ms.load(std::memory_order_relaxed));
    }
    if (busy == 0) {
        for (auto& thread : threads_) thread.join();
        return;
    }
    // A computation cannot be interrupted, and joining would block the loop
    // for as long as it runs (forever, for a hang fault). The threads keep the
    // Pool alive through their shared_ptr and end with the process.
    spdlog::warn("{} compute thread(s) abandoned while running a job (the longest for {} ms): they cannot be joined, "
                 "the process is exiting",
                 busy, longest_ms);
    for (auto& thread : threads_) thread.detach();
}

void ThreadsBackend::on_completions(uv_async_t* handle) {
    auto* self = static_cast<ThreadsBackend*>(handle->data);
    if (self != nullptr) self->deliver_completions();
}

void ThreadsBackend::deliver_completions() {
    while (const auto index = pool_->finished.pop()) {
        Cell& cell = pool_->cells[*index];
        const bool done = cell.state.load(std::memory_order_acquire) == CellState::done;  // else cancelled
        Completion completion{cell.id, std::move(cell.output)};
        cell.state.store(CellState::free, std::memory_order_relaxed);
        free_cells_.push_back(*index);  // the sink may enqueue into it
        if (!done) continue;            // cancelled: nobody waits for it
        outstanding_.erase(completion.id);
        sink_(completion);
    }
    update_loop_reference();
}

void ThreadsBackend::update_loop_reference() {
    if (async_ == nullptr || uv_is_closing(as_handle(async_))) return;
    if (!outstanding_.empty()) {
        uv_ref(as_handle(async_));
    } else {
        uv_unref(as_handle(async_));
    }
}

void ThreadsBackend::on_async_closed(uv_handle_t* handle) {
    auto* self = static_cast<ThreadsBackend*>(handle->data);
    delete reinterpret_cast<uv_async_t*>(handle);
    if (self == nullptr) return;  // a failed constructor or an early destructor
    self->async_ = nullptr;
    self->lifecycle_ = Lifecycle::closed;
    const auto closed = std::move(self->on_closed_);
    if (closed) closed();  // last: it may destroy *self
}

}  // namespace clusterd::worker::compute
