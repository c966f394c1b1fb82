// Requester and consumer processes SIGKILLed at random points never wedge the
// job ring: after each kill the parent repairs exactly as the supervisor will
// (release_consumer / release_requester for the reaped slot and generation)
// and starts a successor. Surviving requesters get an answer (a result or a
// crashed result) for every job the ring accepted, and at the end the whole
// capacity is usable again.
#include "common/job_ring.hpp"

#include <catch2/catch.hpp>

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "common/monotonic.hpp"
#include "fork_child.hpp"

using clusterd::JobParams;
using clusterd::JobRecord;
using clusterd::JobResult;
using clusterd::JobRing;
using clusterd::JobRingHeader;
using clusterd::JobState;
using clusterd::JobStatus;

namespace {

constexpr std::uint32_t capacity = 16;
constexpr std::uint32_t producer_count = 3;  // requester slots 0..2
constexpr std::uint32_t consumer_count = 3;  // consumer slots 0..2: the same numbers, another role
constexpr std::uint64_t max_jobs = 1 << 20;  // per producer generation

// What happened to job k of a producer: written by that producer only.
enum Outcome : std::uint8_t { not_accepted = 0, accepted = 1, answered = 2, crashed = 3, cancelled = 4 };

struct ProducerBoard {
    std::atomic<std::uint64_t> submitted{0};   // jobs 0..submitted-1 may have an outcome
    std::atomic<std::uint64_t> duplicates{0};  // answered twice, or answered after a cancel
    std::atomic<std::uint64_t> wrong{0};       // a wrong value or status, an unknown id
    std::atomic<std::uint32_t> drained{0};     // stopped submitting and every accepted job came back
    std::atomic<std::uint8_t> outcome[max_jobs];
};

struct Shared {
    std::atomic<std::uint32_t> stop_submitting{0};
    ProducerBoard boards[producer_count];
};

constexpr std::size_t shared_offset = (clusterd::job_ring_bytes(capacity) + 63) / 64 * 64;
constexpr std::size_t mapping_bytes = shared_offset + sizeof(Shared);

// An anonymous MAP_SHARED mapping: every forked process sees the same pages.
class Mapping {
public:
    Mapping() {
        memory_ = ::mmap(nullptr, mapping_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        REQUIRE(memory_ != MAP_FAILED);
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping() { ::munmap(memory_, mapping_bytes); }
    void* ring_memory() { return memory_; }
    Shared* shared() { return std::launder(reinterpret_cast<Shared*>(bytes() + shared_offset)); }

    // Records of `state` naming `owner`, read the way the test's checks need them.
    [[nodiscard]] std::uint32_t count_owned(JobState state, std::uint32_t owner) {
        const auto* records = reinterpret_cast<const JobRecord*>(bytes() + sizeof(JobRingHeader));
        std::uint32_t count = 0;
        for (std::uint32_t i = 0; i < capacity; ++i) {
            const auto control = clusterd::unpack_control(records[i].control.load());
            count += control.state == state && control.owner == owner;
        }
        return count;
    }

private:
    std::byte* bytes() { return static_cast<std::byte*>(memory_); }

    void* memory_ = nullptr;
};

JobResult doubled(std::uint64_t n) {
    JobResult result;
    result.status = static_cast<std::uint32_t>(JobStatus::ok);
    result.compute_us = n * 2;
    return result;
}

// A requester: submits (at most 8 outstanding, the odd one cancelled at
// once), collects, and records every outcome on its board, until killed.
// After stop_submitting it only collects, and says when nothing is pending.
[[noreturn]] void run_producer(JobRing ring, Shared& shared, std::uint32_t slot, std::uint64_t generation) {
    ProducerBoard& board = shared.boards[slot];
    std::uint64_t next = 0;
    std::uint64_t outstanding = 0;
    auto on_result = [&](std::uint64_t job_id, const JobResult& result) {
        const std::uint64_t k = job_id & 0xffffffff;
        if ((job_id >> 32) != generation || k >= next) {
            board.wrong.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        if (board.outcome[k].load(std::memory_order_relaxed) != accepted) board.duplicates.fetch_add(1);
        const bool ok = result.status == static_cast<std::uint32_t>(JobStatus::ok) && result.compute_us == k * 2;
        const bool died = result.status == static_cast<std::uint32_t>(JobStatus::crashed);
        if (!ok && !died) board.wrong.fetch_add(1, std::memory_order_relaxed);
        board.outcome[k].store(died ? crashed : answered, std::memory_order_relaxed);
        --outstanding;
    };
    for (;;) {
        const bool submitting = shared.stop_submitting.load(std::memory_order_acquire) == 0;
        bool busy = false;
        if (submitting && outstanding < 8 && next < max_jobs) {
            const std::uint64_t k = next++;
            board.submitted.store(next, std::memory_order_relaxed);
            JobParams params;
            params.task = static_cast<std::uint32_t>(k);
            const auto ticket = ring.submit(slot, generation, (generation << 32) | k, params,
                                            clusterd::monotonic_ms() + 1000);
            if (ticket) {
                board.outcome[k].store(accepted, std::memory_order_relaxed);
                ++outstanding;
                if (k % 11 == 0 && ring.cancel(*ticket)) {
                    board.outcome[k].store(cancelled, std::memory_order_relaxed);
                    --outstanding;
                }
            }
            busy = true;
        }
        busy = ring.collect(slot, generation, on_result) > 0 || busy;
        if (!submitting && outstanding == 0) board.drained.store(1, std::memory_order_release);
        if (!busy) ::sched_yield();
    }
}

// A compute process: claims, "computes" for a random few microseconds (so
// that kills land mid-job too), finishes; sleeps on the futex when idle.
[[noreturn]] void run_consumer(JobRing ring, std::uint32_t slot, std::uint64_t seed) {
    std::minstd_rand random(static_cast<std::uint32_t>(seed));
    for (;;) {
        const std::uint32_t seen = ring.work_seq();
        if (const auto job = ring.claim(slot, clusterd::monotonic_ms())) {
            const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(random() % 50);
            while (std::chrono::steady_clock::now() < until) {
            }
            (void)ring.finish(*job, doubled(job->params.task));
        } else {
            (void)ring.wait_for_work(seen, 20);
        }
    }
}

enum class Role { producer, consumer };

struct Child {
    Role role;
    std::uint32_t slot;
    std::uint64_t generation = 0;
    pid_t pid = -1;
};

// Every child process of the test; the destructor kills and reaps whatever is
// still alive, so no process outlives the test whatever fails.
class Children {
public:
    Children(const Children&) = delete;
    Children& operator=(const Children&) = delete;
    Children(Mapping& mapping, JobRing ring) : mapping_(mapping), ring_(ring) {}
    ~Children() {
        for (Child& child : children_) {
            if (child.pid > 0) {
                ::kill(child.pid, SIGKILL);
                (void)reap(child);
            }
        }
    }

    std::vector<Child>& all() { return children_; }

    void add(Role role, std::uint32_t slot) {
        children_.push_back({role, slot});
        start(children_.back());
    }

    // Starts a process for `child`'s slot under a new generation.
    void start(Child& child) {
        child.generation = ++last_generation_;
        if (child.role == Role::producer) reset_board(mapping_.shared()->boards[child.slot]);
        const pid_t pid = fork_child([&] {
            if (child.role == Role::producer) run_producer(ring_, *mapping_.shared(), child.slot, child.generation);
            run_consumer(ring_, child.slot, child.generation);
        });
        REQUIRE(pid >= 0);
        child.pid = pid;
    }

    // SIGKILL, then wait for this child only (never waitpid(-1)); the wait status.
    int kill(Child& child) {
        REQUIRE(::kill(child.pid, SIGKILL) == 0);
        return reap(child);
    }

private:
    static int reap(Child& child) {
        int status = 0;
        pid_t got = 0;
        do {
            got = ::waitpid(child.pid, &status, 0);
        } while (got < 0 && errno == EINTR);
        child.pid = -1;
        return got < 0 ? -1 : status;
    }

    static void reset_board(ProducerBoard& board) {
        const std::uint64_t used = board.submitted.load();
        for (std::uint64_t k = 0; k < used && k < max_jobs; ++k) board.outcome[k].store(not_accepted);
        board.submitted.store(0);
        board.duplicates.store(0);
        board.wrong.store(0);
        board.drained.store(0);
    }

    Mapping& mapping_;
    JobRing ring_;
    std::vector<Child> children_;
    std::uint64_t last_generation_ = 0;
};

// What the supervisor does after reaping: the repair for the process's role.
// Returns whether the dead process still owned records (the kill landed
// mid-submit or mid-job).
bool repair(JobRing& ring, Mapping& mapping, const Child& dead) {
    if (dead.role == Role::consumer) {
        const bool mid_job = mapping.count_owned(JobState::running, dead.slot) > 0;
        (void)ring.release_consumer(dead.slot);
        REQUIRE(mapping.count_owned(JobState::running, dead.slot) == 0);
        return mid_job;
    }
    const bool mid_submit = mapping.count_owned(JobState::filling, dead.slot) > 0;
    const bool owned = ring.release_requester(dead.slot, dead.generation) > 0;
    REQUIRE(mapping.count_owned(JobState::filling, dead.slot) == 0);
    return owned || mid_submit;
}

struct Answers {
    std::uint64_t answered = 0;
    std::uint64_t crashed = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t unanswered = 0;
};

Answers tally(ProducerBoard& board) {
    Answers answers;
    const std::uint64_t used = board.submitted.load();
    for (std::uint64_t k = 0; k < used && k < max_jobs; ++k) {
        switch (board.outcome[k].load()) {
            case accepted: ++answers.unanswered; break;
            case answered: ++answers.answered; break;
            case crashed: ++answers.crashed; break;
            case cancelled: ++answers.cancelled; break;
            default: break;
        }
    }
    return answers;
}

}  // namespace

TEST_CASE("requesters and consumers killed at random points never wedge the job ring",
          "[common][job_ring][process]") {
    Mapping mapping;
    auto created = JobRing::create(mapping.ring_memory(), shared_offset, capacity);
    REQUIRE(created);
    JobRing ring = *created;
    new (mapping.shared()) Shared();
    const auto seed = std::random_device{}();
    CAPTURE(seed);
    std::mt19937 random(seed);

    Children children(mapping, ring);
    for (std::uint32_t slot = 0; slot < producer_count; ++slot) children.add(Role::producer, slot);
    for (std::uint32_t slot = 0; slot < consumer_count; ++slot) children.add(Role::consumer, slot);

    // Kill a random process every few milliseconds, repair, replace it. The
    // first requester is spared: it lives through every consumer death, so
    // crashed results reach a live requester.
    int kills = 0;
    int landed = 0;  // kills of a process that owned records at that instant
    const auto kill_phase_ends = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
    while (std::chrono::steady_clock::now() < kill_phase_ends) {
        std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 12000)(random)));
        std::uniform_int_distribution<std::size_t> pick(1, children.all().size() - 1);
        Child& victim = children.all()[pick(random)];
        const int status = children.kill(victim);
        REQUIRE(WIFSIGNALED(status));
        REQUIRE(WTERMSIG(status) == SIGKILL);
        ++kills;
        landed += repair(ring, mapping, victim) ? 1 : 0;
        children.start(victim);
    }

    // The survivors stop submitting and must get every accepted job back.
    mapping.shared()->stop_submitting.store(1, std::memory_order_release);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (std::uint32_t slot = 0; slot < producer_count; ++slot) {
        while (mapping.shared()->boards[slot].drained.load(std::memory_order_acquire) == 0) {
            REQUIRE(std::chrono::steady_clock::now() < give_up);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    Answers total;
    for (std::uint32_t slot = 0; slot < producer_count; ++slot) {
        ProducerBoard& board = mapping.shared()->boards[slot];
        CAPTURE(slot);
        REQUIRE(board.wrong.load() == 0);
        REQUIRE(board.duplicates.load() == 0);
        const Answers answers = tally(board);
        REQUIRE(answers.unanswered == 0);
        total.answered += answers.answered;
        total.crashed += answers.crashed;
        total.cancelled += answers.cancelled;
    }

    // With the consumers still alive and nothing submitted, every record
    // drains back to free without any repair: orphans of dead requesters
    // are freed by their consumers' finish().
    while (ring.load().free != capacity) {
        REQUIRE(std::chrono::steady_clock::now() < give_up);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }

    // Everyone dies; after the repairs nothing is left filling or running, and
    // every record is free.
    for (Child& child : children.all()) {
        (void)children.kill(child);
        (void)repair(ring, mapping, child);
    }
    const auto load = ring.load();
    REQUIRE(load.filling == 0);
    REQUIRE(load.running == 0);
    REQUIRE(load.free == capacity);

    // A fresh requester and consumer push the whole capacity through.
    for (std::uint64_t k = 0; k < capacity; ++k) {
        JobParams params;
        params.task = static_cast<std::uint32_t>(k);
        REQUIRE(ring.submit(0, 1000, k, params, 0));
    }
    REQUIRE_FALSE(ring.submit(0, 1000, capacity, JobParams{}, 0));
    for (std::uint32_t i = 0; i < capacity; ++i) {
        const auto job = ring.claim(0, 1);
        REQUIRE(job);
        REQUIRE(ring.finish(*job, doubled(job->params.task)));
    }
    std::uint32_t collected = 0;
    REQUIRE(ring.collect(0, 1000, [&](std::uint64_t job_id, const JobResult& result) {
        collected += result.compute_us == job_id * 2;
    }) == capacity);
    REQUIRE(collected == capacity);

    CAPTURE(kills, landed, total.answered, total.crashed, total.cancelled);
    REQUIRE(kills > 50);
    WARN("job ring kill test: " << kills << " kills, " << landed << " while the process owned records; survivors got "
                                << total.answered << " results, " << total.crashed << " crashed, " << total.cancelled
                                << " cancelled");
}
