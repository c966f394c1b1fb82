// The job ring's semantics, one process: capacity, FIFO, cancel, collect,
// the supervisor's repairs, garbage, the futex wait; then threads hammering
// it (the TSan build runs this file too).
#include "common/job_ring.hpp"

#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "common/unique_fd.hpp"

using clusterd::ClaimedJob;
using clusterd::JobParams;
using clusterd::JobRecord;
using clusterd::JobRequester;
using clusterd::JobResult;
using clusterd::JobRing;
using clusterd::JobRingHeader;
using clusterd::JobState;
using clusterd::JobStatus;
using clusterd::JobTicket;
using clusterd::WorkWait;

namespace {

// A ring on the heap, and a way to reach its records the way a scribbling
// process (or a test playing one) would.
class HeapRing {
public:
    explicit HeapRing(std::uint32_t capacity, std::uint32_t max_input = 0, std::uint32_t max_output = 0)
        : bytes_(clusterd::job_ring_bytes(capacity, max_input, max_output)),
          memory_(::operator new(bytes_, std::align_val_t{64})) {
        auto created = JobRing::create(memory_, bytes_, capacity, max_input, max_output);
        REQUIRE(created);
        ring_ = *created;
    }
    HeapRing(const HeapRing&) = delete;
    HeapRing& operator=(const HeapRing&) = delete;
    ~HeapRing() { ::operator delete(memory_, std::align_val_t{64}); }

    JobRing& ring() { return *ring_; }
    void* memory() { return memory_; }
    [[nodiscard]] std::size_t bytes() const { return bytes_; }
    JobRecord& record(std::uint32_t index) {
        auto* records = reinterpret_cast<JobRecord*>(static_cast<std::byte*>(memory_) + sizeof(JobRingHeader));
        return std::launder(records)[index];
    }
    [[nodiscard]] JobState state(std::uint32_t index) {
        const auto state = clusterd::unpack_control(record(index).control.load()).state;
        REQUIRE(state);
        return *state;
    }

private:
    std::size_t bytes_;
    void* memory_;
    std::optional<JobRing> ring_;
};

// The ring carries params and result without reading them (the task index,
// compute_us): these tests use them as tags. The payload area has its own tests.
JobParams params_for(std::uint64_t n) {
    JobParams params;
    params.task = static_cast<std::uint32_t>(n);
    return params;
}

JobResult answer(const ClaimedJob& job) {
    JobResult result;
    result.status = static_cast<std::uint32_t>(JobStatus::ok);
    result.compute_us = job.params.task * 2;
    return result;
}

// Claims and finishes everything queued as consumer `slot`; returns how many.
std::size_t run_all(JobRing& ring, std::uint32_t slot) {
    std::size_t ran = 0;
    while (auto job = ring.claim(slot, 1)) {
        (void)ring.finish(*job, answer(*job));
        ++ran;
    }
    return ran;
}

struct Collected {
    std::uint64_t job_id = 0;
    JobResult result;
};

std::vector<Collected> collect_all(JobRing& ring, std::uint32_t slot, std::uint64_t generation) {
    std::vector<Collected> out;
    const std::size_t count = ring.collect(slot, generation, [&](std::uint64_t job_id, const JobResult& result) {
        out.push_back({job_id, result});
    });
    REQUIRE(count == out.size());
    return out;
}

}  // namespace

TEST_CASE("the control word packs state, orphan bit, owner and sequence without overlap", "[common][job_ring]") {
    const auto state = GENERATE(JobState::free, JobState::filling, JobState::queued, JobState::running, JobState::done);
    const bool orphaned = GENERATE(false, true);
    const std::uint32_t owner = GENERATE(0u, 1u, 4095u);
    const std::uint64_t sequence =
        GENERATE(std::uint64_t{0}, std::uint64_t{12345}, clusterd::job_control::sequence_mask);
    const auto control = clusterd::unpack_control(clusterd::pack_control(state, orphaned, owner, sequence));
    REQUIRE(control.state == state);
    REQUIRE(control.orphaned == orphaned);
    REQUIRE(control.owner == owner);
    REQUIRE(control.sequence == sequence);
    REQUIRE_FALSE(clusterd::unpack_control(7).state);
}

TEST_CASE("create and attach refuse memory that cannot hold the ring they describe", "[common][job_ring]") {
    HeapRing heap(8);
    REQUIRE_FALSE(JobRing::create(heap.memory(), heap.bytes() - 1, 8));
    REQUIRE_FALSE(JobRing::create(heap.memory(), heap.bytes(), 0));
    REQUIRE_FALSE(JobRing::create(static_cast<std::byte*>(heap.memory()) + 8, heap.bytes(), 1));
    REQUIRE_FALSE(JobRing::attach(heap.memory(), heap.bytes() - 1));

    auto attached = JobRing::attach(heap.memory(), heap.bytes());
    REQUIRE(attached);
    REQUIRE(attached->capacity() == 8);
    // A job submitted through one view is claimed through the other.
    REQUIRE(heap.ring().submit(1, 1, 42, params_for(3), 0));
    const auto job = attached->claim(0, 1);
    REQUIRE(job);
    REQUIRE(job->requester.job_id == 42);

    // A scribbled capacity: attach refuses it, and the existing view keeps its own copy.
    static_cast<JobRingHeader*>(heap.memory())->capacity = 1'000'000;
    REQUIRE_FALSE(JobRing::attach(heap.memory(), heap.bytes()));
    REQUIRE(heap.ring().load().free == 7);
}

TEST_CASE("two mappings of one ring at different addresses work on the same jobs", "[common][job_ring]") {
    const std::size_t bytes = clusterd::job_ring_bytes(8);
    const clusterd::UniqueFd fd(::memfd_create("job_ring_test", MFD_CLOEXEC));
    REQUIRE(fd);
    REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(bytes)) == 0);
    auto map = [&] { return ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0); };
    void* const first = map();
    void* const second = map();
    REQUIRE((first != MAP_FAILED && second != MAP_FAILED && first != second));
    auto requester_view = JobRing::create(first, bytes, 8);
    auto consumer_view = JobRing::attach(second, bytes);
    REQUIRE((requester_view && consumer_view));

    REQUIRE(requester_view->submit(1, 1, 21, params_for(21), 0));
    const auto job = consumer_view->claim(0, 1);
    REQUIRE(job);
    REQUIRE(consumer_view->finish(*job, answer(*job)));
    const auto results = collect_all(*requester_view, 1, 1);
    REQUIRE(results.size() == 1);
    REQUIRE(results[0].result.compute_us == 42);
    ::munmap(first, bytes);
    ::munmap(second, bytes);
}

TEST_CASE("with nothing consumed exactly capacity submits succeed", "[common][job_ring]") {
    const std::uint32_t capacity = GENERATE(1u, 3u, 64u);
    HeapRing heap(capacity);
    JobRing& ring = heap.ring();
    for (std::uint32_t i = 0; i < capacity; ++i) REQUIRE(ring.submit(1, 1, i, params_for(i), 0));
    REQUIRE_FALSE(ring.submit(1, 1, 999, params_for(0), 0));
    REQUIRE(ring.load().queued == capacity);

    // One record through the whole cycle makes room for exactly one more.
    REQUIRE(run_all(ring, 0) == capacity);
    REQUIRE(collect_all(ring, 1, 1).size() == capacity);
    REQUIRE(ring.load().free == capacity);
    for (std::uint32_t i = 0; i < capacity; ++i) REQUIRE(ring.submit(2, 1, i, params_for(i), 0));
    REQUIRE_FALSE(ring.submit(2, 1, 999, params_for(0), 0));
}

TEST_CASE("consumers get jobs in ticket order, not record order", "[common][job_ring]") {
    HeapRing heap(4);
    JobRing& ring = heap.ring();
    const auto first = ring.submit(1, 1, 0, params_for(0), 0);
    REQUIRE(first);
    for (std::uint64_t id = 1; id <= 2; ++id) REQUIRE(ring.submit(1, 1, id, params_for(id), 0));
    REQUIRE(ring.cancel(*first));
    // Job 3 takes the last record, job 4 the freed first one: 4 sits in the
    // lowest record but was queued last.
    REQUIRE(ring.submit(1, 1, 3, params_for(3), 0));
    const auto reused = ring.submit(1, 1, 4, params_for(4), 0);
    REQUIRE(reused);
    REQUIRE(reused->index == first->index);

    for (std::uint64_t id = 1; id <= 4; ++id) {
        const auto job = ring.claim(0, 1);
        REQUIRE(job);
        REQUIRE(job->requester.job_id == id);
        REQUIRE(job->params.task == id);
    }
    REQUIRE_FALSE(ring.claim(0, 1));
}

TEST_CASE("cancel withdraws a queued job but not a claimed one", "[common][job_ring]") {
    HeapRing heap(2);
    JobRing& ring = heap.ring();
    const auto ticket = ring.submit(1, 1, 7, params_for(7), 0);
    REQUIRE(ticket);

    SECTION("queued: freed, and the ticket is spent") {
        REQUIRE(ring.cancel(*ticket));
        REQUIRE(ring.load().free == 2);
        REQUIRE_FALSE(ring.cancel(*ticket));
        // The record's next job has a new sequence: the old ticket cannot touch it.
        REQUIRE(ring.submit(1, 1, 8, params_for(8), 0));
        REQUIRE(ring.submit(1, 1, 9, params_for(9), 0));
        REQUIRE_FALSE(ring.cancel(*ticket));
        REQUIRE(ring.load().queued == 2);
    }
    SECTION("claimed: refused, and the result still comes back") {
        const auto job = ring.claim(0, 1);
        REQUIRE(job);
        REQUIRE_FALSE(ring.cancel(*ticket));
        REQUIRE(ring.finish(*job, answer(*job)));
        const auto results = collect_all(ring, 1, 1);
        REQUIRE(results.size() == 1);
        REQUIRE(results[0].job_id == 7);
        REQUIRE(results[0].result.compute_us == 14);
    }
}

TEST_CASE("collect hands out only the caller's own (slot, generation) results, once", "[common][job_ring]") {
    HeapRing heap(8);
    JobRing& ring = heap.ring();
    REQUIRE(ring.submit(1, 1, 10, params_for(10), 0));
    REQUIRE(ring.submit(1, 2, 20, params_for(20), 0));  // the slot's next process
    REQUIRE(ring.submit(2, 1, 30, params_for(30), 0));
    REQUIRE(ring.submit(1, 1, 11, params_for(11), 0));
    REQUIRE(run_all(ring, 0) == 4);

    const auto mine = collect_all(ring, 1, 1);
    REQUIRE(mine.size() == 2);
    for (const auto& got : mine) {
        REQUIRE((got.job_id == 10 || got.job_id == 11));
        REQUIRE(got.result.compute_us == got.job_id * 2);
    }
    REQUIRE(collect_all(ring, 1, 1).empty());
    REQUIRE(ring.load().done == 2);
    REQUIRE(collect_all(ring, 1, 2).at(0).job_id == 20);
    REQUIRE(collect_all(ring, 2, 1).at(0).job_id == 30);
    REQUIRE(ring.load().free == 8);
}

TEST_CASE("a job whose requester died is freed by its consumer's finish", "[common][job_ring]") {
    HeapRing heap(2);
    JobRing& ring = heap.ring();
    REQUIRE(ring.submit(1, 1, 5, params_for(5), 0));
    const auto job = ring.claim(3, 1);
    REQUIRE(job);
    REQUIRE(ring.release_requester(1, 1) == 1);
    REQUIRE(ring.load().running == 1);  // still the consumer's to finish

    REQUIRE_FALSE(ring.finish(*job, answer(*job)));
    REQUIRE(ring.load().free == 2);
    REQUIRE(collect_all(ring, 1, 1).empty());
}

TEST_CASE("release_consumer turns exactly the dead consumer's jobs into crashed results", "[common][job_ring]") {
    HeapRing heap(8);
    JobRing& ring = heap.ring();
    for (std::uint64_t id = 1; id <= 4; ++id) REQUIRE(ring.submit(1, 1, id, params_for(id), 0));
    const auto a = ring.claim(5, 1);  // job 1
    const auto b = ring.claim(5, 1);  // job 2
    const auto c = ring.claim(6, 1);  // job 3, another consumer
    REQUIRE((a && b && c));
    const auto d = ring.claim(5, 1);  // job 4, its requester gone too
    REQUIRE(d);
    REQUIRE(ring.release_requester(1, 1) == 4);  // orphans all four: none is done
    REQUIRE(ring.finish(*c, answer(*c)) == std::nullopt);
    REQUIRE(ring.submit(1, 2, 1, params_for(1), 0));
    REQUIRE(ring.submit(1, 2, 2, params_for(2), 0));
    const auto e = ring.claim(5, 1);
    const auto f = ring.claim(6, 1);
    REQUIRE((e && f));
    REQUIRE(ring.submit(2, 1, 9, params_for(9), 0));  // another requester's, queued

    const auto woken = ring.release_consumer(5);
    REQUIRE(woken.size() == 1);  // e; a, b and d were orphaned, so just freed
    REQUIRE(woken[0].slot == 1);
    REQUIRE(woken[0].generation == 2);
    REQUIRE(woken[0].job_id == e->requester.job_id);
    REQUIRE(ring.load().running == 1);  // f, consumer 6's, untouched
    REQUIRE(ring.finish(*e, answer(*e)) == std::nullopt);  // the dead consumer's claim is void

    const auto results = collect_all(ring, 1, 2);
    REQUIRE(results.size() == 1);
    REQUIRE(results[0].result.status == static_cast<std::uint32_t>(JobStatus::crashed));
    REQUIRE(ring.finish(*f, answer(*f)));
    REQUIRE(collect_all(ring, 1, 2).at(0).result.compute_us == f->params.task * 2);
    REQUIRE(ring.load().queued == 1);  // job 9 of requester 2 was never touched
}

TEST_CASE("release_requester frees or orphans exactly the dead requester's records", "[common][job_ring]") {
    HeapRing heap(8);
    JobRing& ring = heap.ring();
    // Requester (1, 1): one done, one running, one queued, one half-filled.
    REQUIRE(ring.submit(1, 1, 1, params_for(1), 0));
    REQUIRE(ring.finish(*ring.claim(0, 1), answer(ClaimedJob{})));
    REQUIRE(ring.submit(1, 1, 2, params_for(2), 0));
    const auto running = ring.claim(0, 1);
    REQUIRE(running);
    REQUIRE(ring.submit(1, 1, 3, params_for(3), 0));
    // Others: (1, 2) and (2, 1), one queued each.
    REQUIRE(ring.submit(1, 2, 4, params_for(4), 0));
    REQUIRE(ring.submit(2, 1, 5, params_for(5), 0));
    // The half-filled one: a requester of slot 1 killed right after its
    // free → filling CAS, before it wrote any field.
    const std::uint32_t filling = 7;
    heap.record(filling).control.store(clusterd::pack_control(JobState::filling, false, 1, 0));

    REQUIRE(ring.release_requester(1, 1) == 4);
    REQUIRE(heap.state(filling) == JobState::free);
    const auto load = ring.load();
    REQUIRE(load.running == 1);  // orphaned, still its consumer's
    REQUIRE(load.queued == 2);   // (1, 2) and (2, 1)
    REQUIRE(load.done == 0);
    REQUIRE(load.filling == 0);
    ring.for_each_running([](const clusterd::RunningJob& job) { REQUIRE(job.orphaned); });
    REQUIRE(ring.release_requester(1, 1) == 0);
}

TEST_CASE("for_each_running shows the watchdog who runs what since when", "[common][job_ring]") {
    HeapRing heap(4);
    JobRing& ring = heap.ring();
    REQUIRE(ring.submit(2, 9, 77, params_for(1), 5000));
    REQUIRE(ring.claim(3, 1234));
    int seen = 0;
    ring.for_each_running([&](const clusterd::RunningJob& job) {
        ++seen;
        REQUIRE(job.consumer_slot == 3);
        REQUIRE(job.started_ms == 1234);
        REQUIRE(job.deadline_ms == 5000);
        REQUIRE(job.requester.slot == 2);
        REQUIRE(job.requester.generation == 9);
        REQUIRE(job.requester.job_id == 77);
        REQUIRE_FALSE(job.orphaned);
    });
    REQUIRE(seen == 1);
}

TEST_CASE("garbage over the records and the header never hangs or crashes a call", "[common][job_ring]") {
    constexpr std::uint32_t capacity = 32;
    constexpr std::uint32_t slots = 8;
    HeapRing heap(capacity);
    JobRing& ring = heap.ring();
    const auto seed = std::random_device{}();
    CAPTURE(seed);
    std::mt19937_64 random(seed);

    for (int round = 0; round < 200; ++round) {
        // Scribble: random control words (mostly with small owners, so that
        // they look plausible), random fields, a random header.
        for (std::uint32_t i = 0; i < capacity; ++i) {
            JobRecord& record = heap.record(i);
            std::uint64_t word = random();
            if (random() % 2 == 0) word &= ~(std::uint64_t{0xff8} << 4);  // owner < 8
            record.control.store(word);
            record.ticket.store(random());
            record.requester_slot.store(static_cast<std::uint32_t>(random() % (slots + 2)));
            record.requester_generation.store(random() % 3);
        }
        auto* header = static_cast<JobRingHeader*>(heap.memory());
        header->free_hint.store(static_cast<std::uint32_t>(random()));
        header->next_ticket.store(random());

        for (std::uint32_t slot = 0; slot < slots; ++slot) {
            if (auto ticket = ring.submit(slot, 1, 1, params_for(1), 0)) {
                REQUIRE(ticket->index < capacity);
                (void)ring.cancel(*ticket);
            }
            (void)ring.cancel(JobTicket{static_cast<std::uint32_t>(random()), random()});
            if (auto job = ring.claim(slot, 1)) {
                REQUIRE(job->ticket.index < capacity);
                (void)ring.finish(*job, answer(*job));
            }
            (void)ring.collect(slot, random() % 3, [](std::uint64_t, const JobResult&) {});
            (void)ring.release_consumer(slot);
            (void)ring.release_requester(slot, random() % 3);
            ring.for_each_running([&](const clusterd::RunningJob& job) { REQUIRE(job.ticket.index < capacity); });
        }
        const auto load = ring.load();
        REQUIRE(load.free + load.filling + load.queued + load.running + load.done + load.corrupt == capacity);
        (void)ring.reclaim_corrupt(slots);
        REQUIRE(ring.load().corrupt == 0);
    }
}

TEST_CASE("a consumer waiting for work returns on a notify and on its timeout", "[common][job_ring]") {
    HeapRing heap(2);
    JobRing& ring = heap.ring();

    SECTION("timeout") {
        REQUIRE(ring.wait_for_work(ring.work_seq(), 20) == WorkWait::timed_out);
    }
    SECTION("a value that already moved: no sleep at all") {
        const std::uint32_t seen = ring.work_seq();
        ring.notify_work();
        REQUIRE(ring.wait_for_work(seen, 10'000) == WorkWait::changed);
    }
    SECTION("a notify from another thread") {
        const std::uint32_t seen = ring.work_seq();
        std::atomic<int> outcome{-1};
        std::thread waiter([&] { outcome = static_cast<int>(ring.wait_for_work(seen, 10'000)); });
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        REQUIRE(ring.submit(1, 1, 1, params_for(1), 0));  // submit notifies
        waiter.join();
        // Woken, or the submit landed before the waiter reached FUTEX_WAIT; never the 10 s timeout.
        const auto result = static_cast<WorkWait>(outcome.load());
        REQUIRE((result == WorkWait::woken || result == WorkWait::changed));
    }
}

namespace {

// One producer thread's record of its jobs: what happened to job k.
struct ProducerTally {
    std::vector<std::uint8_t> outcome;  // 0 not submitted, 1 accepted, 2 collected, 3 cancelled
    std::uint64_t duplicates = 0;       // collected twice, or collected after a cancel
    std::uint64_t wrong = 0;            // a wrong value, status or unknown id
    std::uint64_t refused = 0;          // ring full
    bool drained = false;               // every accepted job came back in time
};

void produce(JobRing& ring, std::uint32_t slot, std::chrono::steady_clock::time_point stop_submitting,
             ProducerTally& tally) {
    constexpr std::uint64_t max_outstanding = 16;
    constexpr std::uint64_t max_jobs = 1 << 20;
    tally.outcome.assign(max_jobs, 0);
    std::uint64_t next = 0;
    std::uint64_t outstanding = 0;
    auto on_result = [&](std::uint64_t job_id, const JobResult& result) {
        const std::uint64_t k = job_id & 0xffffffff;
        if ((job_id >> 32) != slot || k >= next) {
            ++tally.wrong;
            return;
        }
        if (tally.outcome[k] != 1) ++tally.duplicates;
        if (result.status != static_cast<std::uint32_t>(JobStatus::ok) || result.compute_us != k * 2) ++tally.wrong;
        tally.outcome[k] = 2;
        --outstanding;
    };
    while (std::chrono::steady_clock::now() < stop_submitting && next < max_jobs) {
        if (outstanding < max_outstanding) {
            const std::uint64_t k = next++;
            if (const auto ticket = ring.submit(slot, 1, (std::uint64_t{slot} << 32) | k, params_for(k), 0)) {
                tally.outcome[k] = 1;
                ++outstanding;
                if (k % 7 == 0 && ring.cancel(*ticket)) {
                    tally.outcome[k] = 3;
                    --outstanding;
                }
            } else {
                ++tally.refused;
            }
        }
        if (ring.collect(slot, 1, on_result) == 0) std::this_thread::yield();
    }
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (outstanding > 0 && std::chrono::steady_clock::now() < give_up) {
        if (ring.collect(slot, 1, on_result) == 0) std::this_thread::yield();
    }
    tally.drained = outstanding == 0;
}

void consume(JobRing& ring, std::uint32_t slot, const std::atomic<bool>& stop) {
    while (!stop.load(std::memory_order_relaxed)) {
        const std::uint32_t seen = ring.work_seq();
        if (const auto job = ring.claim(slot, 1)) {
            (void)ring.finish(*job, answer(*job));
        } else {
            (void)ring.wait_for_work(seen, 5);
        }
    }
}

}  // namespace

TEST_CASE("producer and consumer threads: every accepted job comes back exactly once, right",
          "[common][job_ring][threads]") {
    constexpr std::uint32_t producers = 4;
    constexpr std::uint32_t consumers = 3;
    HeapRing heap(32);
    JobRing& ring = heap.ring();
    std::vector<ProducerTally> tallies(producers);
    std::atomic<bool> stop_consumers{false};
    const auto stop_submitting = std::chrono::steady_clock::now() + std::chrono::milliseconds(1000);

    std::vector<std::thread> consumer_threads;
    for (std::uint32_t c = 0; c < consumers; ++c) {
        consumer_threads.emplace_back([&, c] { consume(ring, c, stop_consumers); });
    }
    std::vector<std::thread> producer_threads;
    for (std::uint32_t p = 0; p < producers; ++p) {
        producer_threads.emplace_back([&, p] { produce(ring, p, stop_submitting, tallies[p]); });
    }
    for (auto& thread : producer_threads) thread.join();
    stop_consumers = true;
    for (auto& thread : consumer_threads) thread.join();

    std::uint64_t collected = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t unanswered = 0;  // accepted, neither collected nor cancelled
    for (const auto& tally : tallies) {
        REQUIRE(tally.drained);
        REQUIRE(tally.duplicates == 0);
        REQUIRE(tally.wrong == 0);
        for (std::uint8_t outcome : tally.outcome) {
            unanswered += outcome == 1;
            collected += outcome == 2;
            cancelled += outcome == 3;
        }
    }
    CAPTURE(collected, cancelled);
    REQUIRE(unanswered == 0);
    REQUIRE(collected > 0);
    REQUIRE(ring.load().free == 32);
    WARN("threads: " << collected << " jobs collected, " << cancelled << " cancelled");
}

TEST_CASE("a job's input and output travel through its record's stretch of the payload area", "[common][job_ring]") {
    HeapRing heap(4, 16, 32);
    JobRing& ring = heap.ring();
    REQUIRE(ring.max_input() == 16);
    REQUIRE(ring.max_output() == 32);
    // Every record at once: no stretch overlaps another.
    for (std::uint32_t i = 0; i < 4; ++i) {
        REQUIRE(ring.submit(1, 1, i, params_for(i), 0, "input " + std::to_string(i)));
    }
    for (std::uint32_t i = 0; i < 4; ++i) {
        auto job = ring.claim(0, 1);
        REQUIRE(job);
        REQUIRE(job->input == "input " + std::to_string(job->params.task));
        REQUIRE(job->params.input_length == job->input.size());
        REQUIRE(ring.finish(*job, answer(*job), "output of " + job->input));
    }
    std::size_t seen = 0;
    ring.collect(1, 1, [&](std::uint64_t job_id, const JobResult& result, std::string_view output) {
        REQUIRE(output == "output of input " + std::to_string(job_id));
        REQUIRE(result.output_length == output.size());
        ++seen;
    });
    REQUIRE(seen == 4);
}

TEST_CASE("an input over the area's size is refused and an output over it is dropped as too large",
          "[common][job_ring]") {
    HeapRing heap(2, 8, 8);
    JobRing& ring = heap.ring();
    REQUIRE_FALSE(ring.submit(1, 1, 1, params_for(1), 0, std::string(9, 'x')));
    REQUIRE(ring.load().free == 2);  // nothing was taken by the refusal
    REQUIRE(ring.submit(1, 1, 1, params_for(1), 0, std::string(8, 'x')));
    auto job = ring.claim(0, 1);
    REQUIRE(job);
    REQUIRE(ring.finish(*job, answer(*job), std::string(9, 'y')));
    auto results = collect_all(ring, 1, 1);
    REQUIRE(results.size() == 1);
    REQUIRE(results[0].result.status == static_cast<std::uint32_t>(JobStatus::output_too_large));
    REQUIRE(results[0].result.output_length == 0);
}

TEST_CASE("a scribbled payload length is refused, never followed past the record's stretch", "[common][job_ring]") {
    HeapRing heap(2, 8, 8);
    JobRing& ring = heap.ring();
    SECTION("an input length beyond the area makes the claimed job name no task") {
        const auto ticket = ring.submit(1, 1, 1, params_for(1), 0, "abc");
        REQUIRE(ticket);
        heap.record(ticket->index).params.input_length = 1u << 30;
        auto job = ring.claim(0, 1);
        REQUIRE(job);
        REQUIRE(job->input.empty());
        REQUIRE(job->params.input_length == 0);
        REQUIRE(job->params.task == clusterd::max_tasks);
    }
    SECTION("an output length beyond the area is collected as invalid and empty") {
        const auto ticket = ring.submit(1, 1, 1, params_for(1), 0, "abc");
        REQUIRE(ticket);
        auto job = ring.claim(0, 1);
        REQUIRE(job);
        REQUIRE(ring.finish(*job, answer(*job), "ok"));
        heap.record(ticket->index).result.output_length = 1u << 30;
        std::size_t seen = 0;
        ring.collect(1, 1, [&](std::uint64_t, const JobResult& result, std::string_view output) {
            REQUIRE(result.status == static_cast<std::uint32_t>(JobStatus::invalid));
            REQUIRE(output.empty());
            ++seen;
        });
        REQUIRE(seen == 1);
    }
}

TEST_CASE("a consumer reaped mid-job leaves no output behind, only a crashed result", "[common][job_ring]") {
    HeapRing heap(1, 8, 8);
    JobRing& ring = heap.ring();
    REQUIRE(ring.submit(1, 1, 1, params_for(1), 0, "abc"));
    auto job = ring.claim(0, 1);
    REQUIRE(job);
    const auto woken = ring.release_consumer(0);
    REQUIRE(woken.size() == 1);
    auto results = collect_all(ring, 1, 1);
    REQUIRE(results.size() == 1);
    REQUIRE(results[0].result.status == static_cast<std::uint32_t>(JobStatus::crashed));
    REQUIRE(results[0].result.output_length == 0);
    REQUIRE(ring.load().free == 1);
}
