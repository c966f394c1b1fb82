// The pool: a FIFO of waiting jobs and one slot per thread saying what it
// runs, both under one mutex; threads sleep on a condition variable and hand
// results back through a vector plus one uv_async_t, so the loop thread is
// the only one that ever calls the sink or touches libuv state (uv_async_send
// is the one libuv call that is safe from another thread).
#include "worker/compute/threads_backend.hpp"

#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "common/monotonic.hpp"

namespace clusterd::worker::compute {

struct ThreadsBackend::Pool {
    struct Waiting {
        JobId id = 0;
        JobParams params;
        std::int64_t deadline_ms = 0;
    };
    struct Running {
        JobId id = 0;
        std::int64_t deadline_ms = 0;
        std::int64_t started_ms = 0;  // monotonic_ms() when the thread took it
    };

    Pool(JobRunner job_runner, unsigned threads) : runner(std::move(job_runner)), running(threads) {}

    [[nodiscard]] std::uint64_t running_count() const {
        return static_cast<std::uint64_t>(std::count_if(running.begin(), running.end(),
                                                        [](const auto& slot) { return slot.has_value(); }));
    }

    const JobRunner runner;  // never changes after construction, so read without the mutex

    mutable std::mutex mutex;
    std::condition_variable work_ready;  // waiting gained a job, or closing was set
    // Guarded by mutex:
    std::deque<Waiting> waiting;
    std::vector<std::optional<Running>> running;  // one per thread, by index
    std::vector<Completion> finished;             // done, not yet handed to the loop
    uv_async_t* async = nullptr;                  // null once close() began: later results have no one to go to
    bool closing = false;                         // threads exit instead of taking another job
};

namespace {

// Lower than the loop's 0 so the loop wins a contended core; not 19, so a
// busy pool still makes progress next to other nice work on the machine.
constexpr int compute_nice = 10;

void warn_priority_refused(const char* call, int error) {
    static std::atomic<bool> warned{false};
    if (warned.exchange(true)) return;
    spdlog::warn("{} failed while lowering a compute thread's priority: {}; compute threads compete with the event "
                 "loop as equals",
                 call, std::generic_category().message(error));
}

// Linux keeps the nice value and the scheduling policy per thread (sched(7)),
// so both calls change only the calling pool thread, never the loop thread.
void lower_own_priority() {
    const sched_param no_priority{};  // SCHED_BATCH takes priority 0
    if (sched_setscheduler(0, SCHED_BATCH, &no_priority) != 0) warn_priority_refused("sched_setscheduler(SCHED_BATCH)", errno);
    const auto tid = static_cast<id_t>(gettid());
    errno = 0;
    const int current = getpriority(PRIO_PROCESS, tid);
    // A worker already started nicer than 10 stays there: going back up
    // would need CAP_SYS_NICE, and is not what its operator asked for.
    if (errno == 0 && current >= compute_nice) return;
    if (setpriority(PRIO_PROCESS, tid, compute_nice) != 0) warn_priority_refused("setpriority(10)", errno);
}

void name_own_thread(unsigned index) {
    const std::string name = "compute-" + std::to_string(index);  // <= 15 bytes up to index 99999999
    pthread_setname_np(pthread_self(), name.c_str());
}

// A runner that throws must not take the process down with std::terminate;
// the job is reported as crashed (a 502), which is what it did.
[[nodiscard]] JobResult run_guarded(const JobRunner& runner, JobId id, const JobParams& params) {
    try {
        return runner(params);
    } catch (const std::exception& error) {
        spdlog::error("compute job {} threw on a pool thread: {}", id, error.what());
    }
    JobResult crashed;
    crashed.status = static_cast<std::uint32_t>(JobStatus::crashed);
    return crashed;
}

[[nodiscard]] uv_handle_t* as_handle(uv_async_t* async) { return reinterpret_cast<uv_handle_t*>(async); }

}  // namespace

void ThreadsBackend::run_thread(const std::shared_ptr<Pool>& pool, unsigned index) {
    name_own_thread(index);
    lower_own_priority();
    std::unique_lock lock(pool->mutex);
    for (;;) {
        pool->work_ready.wait(lock, [&] { return pool->closing || !pool->waiting.empty(); });
        if (pool->closing) return;
        const Pool::Waiting job = pool->waiting.front();
        pool->waiting.pop_front();
        pool->running[index] = Pool::Running{job.id, job.deadline_ms, monotonic_ms()};
        lock.unlock();
        const JobResult result = run_guarded(pool->runner, job.id, job.params);
        lock.lock();
        pool->running[index].reset();
        if (pool->async == nullptr) continue;
        pool->finished.push_back(Completion{job.id, result});
        // Under the mutex, so close() cannot close the handle in between.
        uv_async_send(pool->async);
    }
}

ThreadsBackend::ThreadsBackend(uv_loop_t* loop, unsigned threads, std::size_t queue_capacity, CompletionSink sink,
                               JobRunner runner)
    : loop_(loop),
      sink_(std::move(sink)),
      queue_capacity_(queue_capacity),
      pool_(std::make_shared<Pool>(std::move(runner), std::max(threads, 1U))) {
    auto async = std::make_unique<uv_async_t>();
    if (const int rc = uv_async_init(loop_, async.get(), on_completions); rc != 0) {
        throw std::runtime_error(std::string("uv_async_init() failed while starting the compute threads: ") +
                                 uv_strerror(rc));
    }
    async_ = async.release();
    async_->data = this;
    uv_unref(as_handle(async_));
    pool_->async = async_;
    start_threads(std::max(threads, 1U));
}

void ThreadsBackend::start_threads(unsigned count) {
    threads_.reserve(count);
    try {
        for (unsigned index = 0; index < count; ++index) threads_.emplace_back(run_thread, pool_, index);
    } catch (const std::system_error& error) {
        // The destructor will not run for a constructor that throws: undo here.
        {
            const std::lock_guard lock(pool_->mutex);
            pool_->closing = true;
            pool_->async = nullptr;
        }
        pool_->work_ready.notify_all();
        for (auto& thread : threads_) thread.join();
        async_->data = nullptr;
        uv_close(as_handle(async_), on_async_closed);
        throw std::runtime_error("std::thread failed while starting compute thread " + std::to_string(threads_.size()) +
                                 ": " + error.what());
    }
}

ThreadsBackend::~ThreadsBackend() {
    if (lifecycle_ == Lifecycle::closed) return;
    spdlog::critical("compute threads destroyed before close() finished: a bug; their threads are abandoned");
    assert(lifecycle_ == Lifecycle::closed && "ThreadsBackend destroyed before close() called back");
    {
        const std::lock_guard lock(pool_->mutex);
        pool_->closing = true;
        pool_->async = nullptr;
    }
    pool_->work_ready.notify_all();
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.detach();
    }
    // The loop still points at the handle: let it free itself without us.
    async_->data = nullptr;
    if (lifecycle_ == Lifecycle::open) uv_close(as_handle(async_), on_async_closed);
}

bool ThreadsBackend::enqueue(JobId id, const JobParams& params, std::int64_t deadline_ms) {
    if (stopped_ || lifecycle_ != Lifecycle::open) return false;
    {
        const std::lock_guard lock(pool_->mutex);
        // An idle thread takes a waiting job at once, so it adds a place: the
        // bound is threads + queue_capacity in flight, whether or not the
        // idle threads have woken up yet.
        const std::uint64_t idle = pool_->running.size() - pool_->running_count();
        if (pool_->waiting.size() >= queue_capacity_ + idle) return false;
        pool_->waiting.push_back(Pool::Waiting{id, params, deadline_ms});
    }
    pool_->work_ready.notify_one();
    ++in_flight_;
    update_loop_reference();
    return true;
}

bool ThreadsBackend::cancel(JobId id) {
    {
        const std::lock_guard lock(pool_->mutex);
        auto& waiting = pool_->waiting;
        const auto job = std::find_if(waiting.begin(), waiting.end(), [id](const auto& w) { return w.id == id; });
        if (job == waiting.end()) return false;
        waiting.erase(job);
    }
    --in_flight_;
    update_loop_reference();
    return true;
}

BackendLoad ThreadsBackend::load() const {
    const std::lock_guard lock(pool_->mutex);
    return BackendLoad{pool_->waiting.size(), pool_->running_count()};
}

std::vector<StuckJob> ThreadsBackend::stuck_jobs(std::int64_t now_ms, std::int64_t grace_ms) const {
    std::vector<StuckJob> stuck;
    const std::lock_guard lock(pool_->mutex);
    for (const auto& slot : pool_->running) {
        if (slot && slot->deadline_ms + grace_ms < now_ms) stuck.push_back(StuckJob{slot->id, now_ms - slot->started_ms});
    }
    return stuck;
}

std::vector<JobId> ThreadsBackend::stop() {
    stopped_ = true;
    std::vector<JobId> dropped;
    {
        const std::lock_guard lock(pool_->mutex);
        for (const auto& job : pool_->waiting) dropped.push_back(job.id);
        pool_->waiting.clear();
    }
    in_flight_ -= dropped.size();
    update_loop_reference();
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
    {
        const std::lock_guard lock(pool_->mutex);
        pool_->async = nullptr;
    }
    // Results that made it before the handle went away are still owed to
    // the sink: an accepted job is reported exactly once.
    deliver_completions();
    uv_close(as_handle(async_), on_async_closed);
}

void ThreadsBackend::join_or_abandon_threads() {
    std::vector<std::optional<Pool::Running>> busy;
    std::size_t never_started = 0;
    {
        const std::lock_guard lock(pool_->mutex);
        pool_->closing = true;
        never_started = pool_->waiting.size();
        pool_->waiting.clear();
        busy = pool_->running;
    }
    pool_->work_ready.notify_all();
    if (never_started > 0) {
        spdlog::warn("compute threads closed with {} queued jobs never started (stop() was not called)", never_started);
        in_flight_ -= never_started;
    }
    const std::int64_t now = monotonic_ms();
    for (std::size_t index = 0; index < threads_.size(); ++index) {
        if (!busy[index]) {
            threads_[index].join();
            continue;
        }
        // A computation cannot be interrupted, and joining would block the
        // loop for as long as it runs (forever, for a hang fault). The thread
        // keeps the Pool alive through its shared_ptr and ends with the process.
        spdlog::warn("compute-{} abandoned while running job {} for {} ms: it cannot be joined, the process is exiting",
                     index, busy[index]->id, now - busy[index]->started_ms);
        threads_[index].detach();
    }
}

void ThreadsBackend::on_completions(uv_async_t* handle) {
    auto* self = static_cast<ThreadsBackend*>(handle->data);
    if (self != nullptr) self->deliver_completions();
}

void ThreadsBackend::deliver_completions() {
    std::vector<Completion> batch;
    {
        const std::lock_guard lock(pool_->mutex);
        batch.swap(pool_->finished);
    }
    for (const auto& completion : batch) {
        --in_flight_;
        sink_(completion);
    }
    update_loop_reference();
}

void ThreadsBackend::update_loop_reference() {
    if (async_ == nullptr || uv_is_closing(as_handle(async_))) return;
    if (in_flight_ > 0) {
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
