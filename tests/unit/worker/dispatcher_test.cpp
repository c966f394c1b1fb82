// The compute policy shared by every executor, driven on a real libuv loop
// through a hand-driven Backend (the test decides when a job starts and
// ends), plus the inline executor itself.
#include <catch2/catch.hpp>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "common/monotonic.hpp"
#include "worker/compute/dispatcher.hpp"
#include "worker/compute/inline_backend.hpp"

using namespace clusterd;
using namespace clusterd::worker::compute;

namespace {

// A Backend whose jobs start and finish when the test says so.
class ManualBackend final : public Backend {
public:
    ManualBackend(std::size_t capacity, CompletionSink sink) : capacity_(capacity), sink_(std::move(sink)) {}

    bool enqueue(JobId id, Job, std::int64_t deadline_ms) override {
        if (stopped_ || queued_.size() >= capacity_) return false;
        queued_.push_back(id);
        deadlines_[id] = deadline_ms;
        return true;
    }
    bool cancel(JobId id) override {
        auto found = std::find(queued_.begin(), queued_.end(), id);
        if (found == queued_.end()) return false;
        queued_.erase(found);
        return true;
    }
    BackendLoad load() const override { return {queued_.size(), running_.size()}; }
    std::vector<StuckJob> stuck_jobs(std::int64_t now_ms, std::int64_t grace_ms) const override {
        std::vector<StuckJob> stuck;
        for (JobId id : running_) {
            if (deadlines_.at(id) + grace_ms < now_ms) stuck.push_back({id, now_ms - deadlines_.at(id)});
        }
        return stuck;
    }
    std::vector<JobId> stop() override {
        stopped_ = true;
        std::vector<JobId> dropped(queued_.begin(), queued_.end());
        queued_.clear();
        return dropped;
    }
    void close(std::function<void()> closed) override { closed(); }

    void start_next() {
        running_.push_back(queued_.front());
        queued_.pop_front();
    }
    void finish(JobId id, JobStatus status = JobStatus::ok) {
        running_.erase(std::find(running_.begin(), running_.end(), id));
        Completion completion{id, {}};
        completion.output.result.status = static_cast<std::uint32_t>(status);
        completion.output.result.compute_us = 2'000;
        completion.output.output = std::to_string(id * 10);
        sink_(completion);
    }

private:
    std::size_t capacity_;
    CompletionSink sink_;
    std::deque<JobId> queued_;
    std::vector<JobId> running_;
    std::map<JobId, std::int64_t> deadlines_;
    bool stopped_ = false;
};

// A job of task 0 whose input is n.
Job fib(std::uint64_t n) {
    Job job;
    job.input = std::to_string(n);
    job.params.input_length = static_cast<std::uint32_t>(job.input.size());
    return job;
}

struct Fixture {
    uv_loop_t loop{};
    ComputeCounters counters;
    ManualBackend* backend = nullptr;
    std::optional<Dispatcher> dispatcher;
    std::map<JobId, std::vector<JobAnswer>> answers;

    explicit Fixture(std::size_t capacity, Millis timeout = Millis{60'000}) {
        uv_loop_init(&loop);
        dispatcher.emplace(&loop, timeout, &counters, [&](CompletionSink sink) {
            auto made = std::make_unique<ManualBackend>(capacity, std::move(sink));
            backend = made.get();
            return made;
        });
    }
    ~Fixture() {
        dispatcher->close([] {});
        uv_run(&loop, UV_RUN_DEFAULT);
        dispatcher.reset();
        REQUIRE(uv_loop_close(&loop) == 0);
    }

    // Submits and returns the id, or nullopt with the immediate answer recorded under id 0.
    std::optional<JobId> submit(Job job) {
        auto slot = std::make_shared<JobId>(0);  // the id is known only after submit returns
        auto result = dispatcher->submit(std::move(job), Millis{0}, [this, slot](const JobAnswer& answer) {
            answers[*slot].push_back(answer);
        });
        if (auto* now = std::get_if<JobAnswer>(&result)) {
            answers[0].push_back(*now);
            return std::nullopt;
        }
        *slot = std::get<JobId>(result);
        return *slot;
    }
    std::uint64_t count(JobOutcome outcome) const {
        return counters.tasks[0].jobs[static_cast<std::size_t>(outcome)].load();
    }
};

}  // namespace

TEST_CASE("an accepted job is answered once and with its result and counted", "[worker][compute]") {
    Fixture f(4);
    auto id = f.submit(fib(3));
    REQUIRE(id);
    CHECK(f.counters.queued.load() == 1);
    f.backend->start_next();
    f.backend->finish(*id);
    REQUIRE(f.answers[*id].size() == 1);
    CHECK(f.answers[*id][0].outcome == JobOutcome::completed);
    CHECK(f.answers[*id][0].output.output == std::to_string(*id * 10));
    CHECK(f.count(JobOutcome::completed) == 1);
    CHECK(f.counters.tasks[0].run.buckets[2].load() == 1);  // 2 ms: the (1 ms, 5 ms] bucket
    CHECK(f.counters.tasks[0].run.sum_us.load() == 2'000);
    CHECK(f.counters.queued.load() == 0);
}

TEST_CASE("beyond the backend's room a job is refused at once and exactly", "[worker][compute]") {
    Fixture f(2);
    int accepted = 0;
    for (int i = 0; i < 5; ++i) accepted += f.submit(fib(1)) ? 1 : 0;
    CHECK(accepted == 2);
    REQUIRE(f.answers[0].size() == 3);
    for (const auto& answer : f.answers[0]) CHECK(answer.outcome == JobOutcome::rejected);
    CHECK(f.count(JobOutcome::rejected) == 3);
}

TEST_CASE("a job past its deadline is answered timed_out and its late result is dropped", "[worker][compute]") {
    Fixture f(4, Millis{20});
    auto queued = f.submit(fib(1));
    auto running = f.submit(fib(2));
    REQUIRE((queued && running));
    f.backend->start_next();  // `queued` runs; `running` still waits
    uv_run(&f.loop, UV_RUN_DEFAULT);  // only the deadline timer is active: returns after it fired
    CHECK(f.answers[*queued].size() == 1);
    CHECK(f.answers[*queued][0].outcome == JobOutcome::timed_out);
    CHECK(f.answers[*running][0].outcome == JobOutcome::timed_out);
    CHECK(f.count(JobOutcome::timed_out) == 2);
    CHECK(f.dispatcher->stuck_jobs(monotonic_ms() + 5, 0).size() == 1);
    f.backend->finish(*queued);  // late: nobody hears of it
    CHECK(f.answers[*queued].size() == 1);
    CHECK(f.count(JobOutcome::completed) == 0);
}

TEST_CASE("a result that arrives after the deadline is a timeout and even before the timer fired",
          "[worker][compute]") {
    Fixture f(4, Millis{1});
    auto id = f.submit(fib(1));
    REQUIRE(id);
    f.backend->start_next();
    const auto until = monotonic_ms() + 5;
    while (monotonic_ms() <= until) {
    }
    f.backend->finish(*id);
    REQUIRE(f.answers[*id].size() == 1);
    CHECK(f.answers[*id][0].outcome == JobOutcome::timed_out);
}

TEST_CASE("cancelling a queued job removes it without an answer", "[worker][compute]") {
    Fixture f(4);
    auto id = f.submit(fib(1));
    REQUIRE(id);
    f.dispatcher->cancel(*id);
    CHECK(f.answers.count(*id) == 0);
    CHECK(f.count(JobOutcome::cancelled) == 1);
    CHECK(f.counters.queued.load() == 0);
    CHECK(f.dispatcher->waiting_for_answer() == 0);
}

TEST_CASE("cancelling a running job drops its answer but does not count it cancelled", "[worker][compute]") {
    Fixture f(4);
    auto id = f.submit(fib(1));
    REQUIRE(id);
    f.backend->start_next();
    f.dispatcher->cancel(*id);
    f.backend->finish(*id);
    CHECK(f.answers.count(*id) == 0);
    CHECK(f.count(JobOutcome::cancelled) == 0);
}

TEST_CASE("draining sheds queued jobs at once and lets the running one finish and refuses new ones",
          "[worker][compute]") {
    Fixture f(4);
    auto running = f.submit(fib(1));
    auto queued = f.submit(fib(2));
    REQUIRE((running && queued));
    f.backend->start_next();
    f.dispatcher->shed_queued();
    REQUIRE(f.answers[*queued].size() == 1);
    CHECK(f.answers[*queued][0].outcome == JobOutcome::shed);
    CHECK_FALSE(f.submit(fib(3)));
    CHECK(f.answers[0].back().outcome == JobOutcome::shed);
    f.backend->finish(*running);
    CHECK(f.answers[*running][0].outcome == JobOutcome::completed);
}

TEST_CASE("a crashed executor's job is answered crashed", "[worker][compute]") {
    Fixture f(4);
    auto id = f.submit(fib(1));
    REQUIRE(id);
    f.backend->start_next();
    f.backend->finish(*id, JobStatus::crashed);
    CHECK(f.answers[*id][0].outcome == JobOutcome::crashed);
    CHECK(f.count(JobOutcome::crashed) == 1);
}

TEST_CASE("the inline executor runs one job per loop turn and bounded by its queue", "[worker][compute]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    std::vector<Completion> done;
    std::vector<std::uint64_t> ran;
    InlineBackend backend(&loop, 2, [&](const Completion& c) { done.push_back(c); }, [&](const Job& job) {
        const std::uint64_t n = std::stoull(job.input);
        ran.push_back(n);
        JobOutput output;
        output.result.status = static_cast<std::uint32_t>(JobStatus::ok);
        output.output = std::to_string(n + 1);
        return output;
    });
    CHECK(backend.enqueue(1, fib(10), 0));
    CHECK(backend.enqueue(2, fib(20), 0));
    CHECK_FALSE(backend.enqueue(3, fib(30), 0));  // exactly 2 may wait
    CHECK(done.empty());                          // never from inside enqueue
    CHECK(backend.cancel(2));
    CHECK(backend.enqueue(4, fib(40), 0));
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(ran == std::vector<std::uint64_t>{10});  // one per turn
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(ran == std::vector<std::uint64_t>{10, 40});
    REQUIRE(done.size() == 2);
    CHECK(done[1].id == 4);
    CHECK(done[1].output.output == "41");
    CHECK(backend.enqueue(5, fib(1), 0));
    CHECK(backend.stop() == std::vector<JobId>{5});
    CHECK_FALSE(backend.enqueue(6, fib(1), 0));
    bool closed = false;
    backend.close([&] { closed = true; });
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(closed);
    REQUIRE(uv_loop_close(&loop) == 0);
}
