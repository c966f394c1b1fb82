#include "worker/compute/threads_backend.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/monotonic.hpp"

using namespace clusterd;
using namespace clusterd::worker::compute;

namespace {

// Jobs that block until the test opens the gate, and say who ran them. Held
// through a shared_ptr so a thread abandoned by close() may outlive the test.
class Gate {
public:
    [[nodiscard]] JobRunner runner() const {
        return [state = state_](const Job& job) {
            std::unique_lock lock(state->mutex);
            ++state->started;
            state->tids.push_back(gettid());
            state->changed.notify_all();
            state->changed.wait(lock, [&] { return state->open; });
            JobOutput output;
            output.result.status = static_cast<std::uint32_t>(JobStatus::ok);
            output.output = job.input;
            return output;
        };
    }
    void wait_started(int count) const {
        std::unique_lock lock(state_->mutex);
        state_->changed.wait(lock, [&] { return state_->started >= count; });
    }
    void open() const {
        const std::lock_guard lock(state_->mutex);
        state_->open = true;
        state_->changed.notify_all();
    }
    [[nodiscard]] std::vector<pid_t> tids() const {
        const std::lock_guard lock(state_->mutex);
        return state_->tids;
    }
    // 1 once no runner copy is left: every pool thread has ended and the Pool is gone.
    [[nodiscard]] long holders() const { return state_.use_count(); }

private:
    struct State {
        std::mutex mutex;
        std::condition_variable changed;
        int started = 0;
        bool open = false;
        std::vector<pid_t> tids;
    };
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

class TestLoop {
public:
    TestLoop() { REQUIRE(uv_loop_init(&loop_) == 0); }
    TestLoop(const TestLoop&) = delete;
    TestLoop& operator=(const TestLoop&) = delete;
    uv_loop_t* get() { return &loop_; }
    void run() { uv_run(&loop_, UV_RUN_DEFAULT); }

    // Every test ends here: closed, run empty, uv_loop_close() == 0.
    void close(ThreadsBackend& backend) {
        bool closed = false;
        backend.close([&] { closed = true; });
        run();
        REQUIRE(closed);
        REQUIRE(uv_loop_close(&loop_) == 0);
    }

private:
    uv_loop_t loop_{};
};

struct Completions {
    std::map<JobId, JobOutput> by_id;
    int deliveries = 0;
    CompletionSink sink() {
        return [this](const Completion& completion) {
            ++deliveries;
            by_id[completion.id] = completion.output;
        };
    }
};

// A job whose input is n.
Job job_n(std::uint64_t n) {
    Job job;
    job.input = std::to_string(n);
    job.params.input_length = static_cast<std::uint32_t>(job.input.size());
    return job;
}

// A real computation on the pool: the square of the input.
JobOutput square(const Job& job) {
    const std::uint64_t n = std::stoull(job.input);
    JobOutput output;
    output.result.status = static_cast<std::uint32_t>(JobStatus::ok);
    output.output = std::to_string(n * n);
    return output;
}

constexpr std::int64_t far_deadline = std::numeric_limits<std::int32_t>::max();

// A backend whose jobs block on a gate, with its loop and what it reported.
struct GatedPool {
    GatedPool(unsigned threads, std::size_t queue_capacity, Scheduling scheduling = {})
        : backend(loop.get(), threads, queue_capacity, done.sink(), gate.runner(), {}, scheduling) {}

    // Enqueues a job and returns once a pool thread runs it.
    void start(JobId id, std::int64_t deadline_ms = far_deadline) {
        REQUIRE(backend.enqueue(id, job_n(id), deadline_ms));
        gate.wait_started(++started);
    }
    // Lets every job finish and delivers the results.
    void finish() {
        gate.open();
        loop.run();
    }

    TestLoop loop;
    Completions done;
    Gate gate;
    ThreadsBackend backend;
    int started = 0;
};

// Field 19 of /proc/<pid>/task/<tid>/stat, counted after the ")" that closes
// the command name (which may itself hold spaces).
int nice_of(pid_t tid) {
    std::ifstream file("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int index = 3; index <= 19; ++index) fields >> field;
    return std::stoi(field);
}

std::string name_of(pid_t tid) {
    std::ifstream file("/proc/self/task/" + std::to_string(tid) + "/comm");
    std::string name;
    std::getline(file, name);
    return name;
}

// The calling thread's nice value and scheduling policy.
std::pair<int, int> own_nice_and_policy() {
    errno = 0;
    const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    REQUIRE(errno == 0);
    return {nice, sched_getscheduler(0)};
}

// {queued, running}, in a form Catch can compare and print.
std::pair<std::uint64_t, std::uint64_t> counts(const BackendLoad& load) { return {load.queued, load.running}; }
std::pair<std::uint64_t, std::uint64_t> load_of(std::uint64_t queued, std::uint64_t running) { return {queued, running}; }

}  // namespace

TEST_CASE("jobs run on the pool and their results come back on the loop thread", "[worker][compute][threads]") {
    TestLoop loop;
    Completions done;
    const auto loop_thread = std::this_thread::get_id();
    bool inside_enqueue = false;
    bool sink_misplaced = false;
    ThreadsBackend backend(
        loop.get(), 2, 8,
        [&](Completion& completion) {
            sink_misplaced = sink_misplaced || inside_enqueue || std::this_thread::get_id() != loop_thread;
            done.sink()(completion);
        },
        square);
    const std::vector<std::pair<JobId, std::uint64_t>> jobs = {{1, 20}, {2, 1000}, {3, 7}, {4, 25}};
    for (const auto& [id, n] : jobs) {
        inside_enqueue = true;
        REQUIRE(backend.enqueue(id, job_n(n), far_deadline));
        inside_enqueue = false;
    }
    loop.run();  // returns once nothing is in flight: the pool holds the loop only while it has work

    REQUIRE_FALSE(sink_misplaced);
    REQUIRE(done.deliveries == 4);
    REQUIRE(done.by_id.at(1).output == "400");
    REQUIRE(done.by_id.at(2).output == "1000000");
    REQUIRE(done.by_id.at(3).output == "49");
    REQUIRE(done.by_id.at(4).output == "625");
    REQUIRE(counts(backend.load()) == load_of(0, 0));
    loop.close(backend);
}

TEST_CASE("with one thread and a queue of two, exactly one running and two queued jobs fit",
          "[worker][compute][threads]") {
    GatedPool pool(1, 2);
    pool.start(1);
    REQUIRE(pool.backend.enqueue(2, job_n(2), far_deadline));
    REQUIRE(pool.backend.enqueue(3, job_n(3), far_deadline));
    REQUIRE_FALSE(pool.backend.enqueue(4, job_n(4), far_deadline));
    REQUIRE(counts(pool.backend.load()) == load_of(2, 1));

    pool.finish();
    REQUIRE(pool.done.deliveries == 3);
    REQUIRE(pool.done.by_id.at(3).output == "3");
    REQUIRE(pool.done.by_id.count(4) == 0);
    REQUIRE(pool.backend.enqueue(5, job_n(5), far_deadline));  // room again
    pool.loop.run();
    REQUIRE(pool.done.deliveries == 4);
    pool.loop.close(pool.backend);
}

TEST_CASE("an idle thread counts as room even before it wakes up", "[worker][compute][threads]") {
    GatedPool pool(2, 0);
    REQUIRE(pool.backend.enqueue(1, job_n(1), far_deadline));
    REQUIRE(pool.backend.enqueue(2, job_n(2), far_deadline));
    REQUIRE_FALSE(pool.backend.enqueue(3, job_n(3), far_deadline));
    pool.finish();
    REQUIRE(pool.done.deliveries == 2);
    pool.loop.close(pool.backend);
}

TEST_CASE("a queued job can be cancelled, a running one cannot", "[worker][compute][threads]") {
    GatedPool pool(1, 2);
    pool.start(1);
    REQUIRE(pool.backend.enqueue(2, job_n(2), far_deadline));

    REQUIRE(pool.backend.cancel(2));
    REQUIRE_FALSE(pool.backend.cancel(2));
    REQUIRE_FALSE(pool.backend.cancel(1));
    REQUIRE_FALSE(pool.backend.cancel(77));
    REQUIRE(counts(pool.backend.load()) == load_of(0, 1));

    pool.finish();
    REQUIRE(pool.done.deliveries == 1);
    REQUIRE(pool.done.by_id.count(1) == 1);
    pool.loop.close(pool.backend);
}

TEST_CASE("a running job past its deadline and grace is reported stuck", "[worker][compute][threads]") {
    GatedPool pool(1, 2);
    const std::int64_t before = monotonic_ms();
    const std::int64_t deadline = before + 50;
    pool.start(5, deadline);
    const std::int64_t after = monotonic_ms();
    REQUIRE(pool.backend.enqueue(6, job_n(6), 0));  // long overdue, but queued: not stuck

    REQUIRE(pool.backend.stuck_jobs(deadline + 200, 200).empty());
    const auto stuck = pool.backend.stuck_jobs(deadline + 201, 200);
    REQUIRE(stuck.size() == 1);
    REQUIRE(stuck[0].id == 5);
    REQUIRE(stuck[0].running_for_ms >= deadline + 201 - after);
    REQUIRE(stuck[0].running_for_ms <= deadline + 201 - before);

    pool.finish();
    REQUIRE(pool.backend.stuck_jobs(deadline + 10'000, 0).empty());
    pool.loop.close(pool.backend);
}

TEST_CASE("stop drops and returns the queued jobs, the running one still completes", "[worker][compute][threads]") {
    GatedPool pool(1, 2);
    pool.start(1);
    REQUIRE(pool.backend.enqueue(2, job_n(2), far_deadline));
    REQUIRE(pool.backend.enqueue(3, job_n(3), far_deadline));

    REQUIRE(pool.backend.stop() == std::vector<JobId>{2, 3});
    REQUIRE_FALSE(pool.backend.enqueue(4, job_n(4), far_deadline));
    REQUIRE(counts(pool.backend.load()) == load_of(0, 1));

    pool.finish();
    REQUIRE(pool.done.deliveries == 1);
    REQUIRE(pool.done.by_id.at(1).output == "1");
    pool.loop.close(pool.backend);
}

TEST_CASE("pool threads are named and run under SCHED_BATCH at the loop's nice value, the loop thread stays as it was",
          "[worker][compute][threads]") {
    const auto [loop_nice, loop_policy] = own_nice_and_policy();
    GatedPool pool(2, 0);
    pool.start(1);
    pool.start(2);

    std::vector<std::string> names;
    for (const pid_t tid : pool.gate.tids()) {
        CAPTURE(tid);
        REQUIRE(nice_of(tid) == loop_nice);
        REQUIRE(sched_getscheduler(tid) == SCHED_BATCH);
        names.push_back(name_of(tid));
    }
    std::sort(names.begin(), names.end());
    REQUIRE(names == std::vector<std::string>{"compute-0", "compute-1"});
    REQUIRE(nice_of(gettid()) == loop_nice);
    REQUIRE(sched_getscheduler(0) == loop_policy);

    pool.finish();
    pool.loop.close(pool.backend);
}

TEST_CASE("pool threads take the policy and nice value of --compute-policy and --compute-nice, the loop keeps its own",
          "[worker][compute][threads]") {
    const auto [loop_nice, loop_policy] = own_nice_and_policy();
    const int nice = std::min(19, loop_nice + 5);
    GatedPool pool(2, 0, Scheduling{ComputePolicy::idle, nice});
    pool.start(1);
    pool.start(2);
    for (const pid_t tid : pool.gate.tids()) {
        CAPTURE(tid);
        CHECK(sched_getscheduler(tid) == SCHED_IDLE);
        CHECK(nice_of(tid) == nice);
    }
    CHECK(sched_getscheduler(0) == loop_policy);
    CHECK(nice_of(gettid()) == loop_nice);
    pool.finish();
    pool.loop.close(pool.backend);
}

TEST_CASE("close joins idle threads", "[worker][compute][threads]") {
    Gate gate;  // outlives the pool
    {
        GatedPool pool(3, 0);
        gate = pool.gate;
        pool.start(1);
        pool.finish();
        REQUIRE(pool.done.deliveries == 1);
        pool.loop.close(pool.backend);
    }
    // The runner lives in the Pool, which every pool thread co-owns until it
    // ends: only the test's own reference is left, so all three were joined.
    REQUIRE(gate.holders() == 1);
}

TEST_CASE("close abandons a thread that is still running a job", "[worker][compute][threads]") {
    Gate gate;  // outlives the pool
    {
        GatedPool pool(2, 1);
        gate = pool.gate;
        pool.start(1);
        pool.start(2);
        REQUIRE(pool.backend.enqueue(3, job_n(3), far_deadline));  // queued, dropped by close
        pool.loop.close(pool.backend);  // must not wait for the two blocked jobs
        REQUIRE(pool.done.deliveries == 0);
    }
    REQUIRE(gate.holders() > 1);  // the abandoned threads still hold the Pool
    gate.open();
    // They finish, find nobody to report to, and end; bounded so a bug fails
    // instead of hanging the suite.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (gate.holders() > 1 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    REQUIRE(gate.holders() == 1);
}

TEST_CASE("a runner that throws reports its job as crashed", "[worker][compute][threads]") {
    TestLoop loop;
    Completions done;
    ThreadsBackend backend(loop.get(), 1, 1, done.sink(),
                           [](const Job&) -> JobOutput { throw std::runtime_error("out of luck"); });
    REQUIRE(backend.enqueue(1, job_n(1), far_deadline));
    loop.run();
    REQUIRE(done.by_id.at(1).result.status == static_cast<std::uint32_t>(JobStatus::crashed));
    loop.close(backend);
}

TEST_CASE("four threads complete two hundred jobs exactly once each", "[worker][compute][threads]") {
    constexpr JobId total = 200;
    TestLoop loop;
    std::map<JobId, int> seen;
    bool all_right = true;
    JobId next = 1;
    ThreadsBackend* pool = nullptr;
    // Refills from the sink, so enqueue, cancel-free completion and the
    // queue bound all race against the threads.
    const auto refill = [&] {
        while (next <= total && pool->enqueue(next, job_n(next % 20), far_deadline)) ++next;
    };
    ThreadsBackend backend(
        loop.get(), 4, 6,
        [&](const Completion& completion) {
            ++seen[completion.id];
            all_right = all_right &&
                        completion.output.result.status == static_cast<std::uint32_t>(JobStatus::ok) &&
                        completion.output.output == square(job_n(completion.id % 20)).output;
            refill();
        },
        square);
    pool = &backend;
    refill();
    REQUIRE(next >= 11);  // at least 4 threads + 6 queued; more if some finished meanwhile
    loop.run();

    REQUIRE(all_right);
    REQUIRE(seen.size() == total);
    REQUIRE(std::all_of(seen.begin(), seen.end(), [](const auto& entry) { return entry.second == 1; }));
    REQUIRE(counts(backend.load()) == load_of(0, 0));
    loop.close(backend);
}

TEST_CASE("each pool thread runs the start hook once before it takes work", "[worker][compute][threads]") {
    TestLoop loop;
    Completions done;
    std::mutex mutex;
    std::vector<std::thread::id> hooked;
    thread_local bool ready = false;  // what a hook would load per thread: a model, a corpus
    ThreadsBackend backend(
        loop.get(), 3, 4, done.sink(),
        [](const Job& job) {
            JobOutput output;
            output.result.status = static_cast<std::uint32_t>(JobStatus::ok);
            output.output = ready ? job.input : "hook did not run here";
            return output;
        },
        [&] {
            ready = true;
            const std::lock_guard lock(mutex);
            hooked.push_back(std::this_thread::get_id());
        });
    {
        const std::lock_guard lock(mutex);
        REQUIRE(hooked.size() == 3);  // the constructor waited for every thread's hook
        REQUIRE(std::find(hooked.begin(), hooked.end(), std::this_thread::get_id()) == hooked.end());
    }
    for (JobId id = 1; id <= 6; ++id) REQUIRE(backend.enqueue(id, job_n(id), far_deadline));
    loop.run();
    for (JobId id = 1; id <= 6; ++id) REQUIRE(done.by_id.at(id).output == std::to_string(id));
    loop.close(backend);
}

TEST_CASE("a start hook that throws fails the pool's construction with its message", "[worker][compute][threads]") {
    TestLoop loop;
    Completions done;
    std::atomic<int> calls{0};
    REQUIRE_THROWS_WITH(ThreadsBackend(loop.get(), 2, 1, done.sink(), square,
                                       [&] {
                                           if (calls.fetch_add(1) == 1) throw std::runtime_error("no model file");
                                       }),
                        Catch::Contains("no model file"));
    REQUIRE(calls == 2);
    loop.run();  // the failed constructor closed its handle
    REQUIRE(uv_loop_close(loop.get()) == 0);
}
