// A producer process killed with SIGKILL at random points never leaves a torn
// or out-of-order record behind, and a fresh producer works after reset().
#include "common/spsc_ring.hpp"

#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <new>
#include <random>
#include <thread>

#include "common/seqlock.hpp"  // cpu_relax
#include "fork_child.hpp"

using clusterd::RingConsumer;
using clusterd::RingProducer;
using clusterd::RingRead;
using clusterd::SpscRing;

namespace {

// 64 bytes that check themselves: the generation catches a stale record of an
// earlier producer, the payload and checksum catch a half-written one.
struct KillRecord {
    std::uint64_t generation = 0;
    std::uint64_t sequence = 0;
    std::uint64_t payload[5] = {};
    std::uint64_t checksum = 0;
};
static_assert(sizeof(KillRecord) == 64);

constexpr std::uint64_t checksum_of(const KillRecord& record) {
    std::uint64_t sum = (record.generation << 40) ^ record.sequence;
    for (std::uint64_t word : record.payload) sum = (sum ^ word) * 0x100000001b3ULL;
    return sum;
}

constexpr KillRecord make_record(std::uint64_t generation, std::uint64_t sequence) {
    KillRecord record;
    record.generation = generation;
    record.sequence = sequence;
    for (auto& word : record.payload) word = sequence;
    record.checksum = checksum_of(record);
    return record;
}

using Ring = SpscRing<KillRecord, 512>;

// An anonymous MAP_SHARED mapping that outlives fork(): both processes see the
// same pages.
class SharedRing {
public:
    SharedRing() {
        memory_ = ::mmap(nullptr, sizeof(Ring), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        REQUIRE(memory_ != MAP_FAILED);
        ring_ = new (memory_) Ring();
    }
    SharedRing(const SharedRing&) = delete;
    SharedRing& operator=(const SharedRing&) = delete;
    ~SharedRing() { ::munmap(memory_, sizeof(Ring)); }
    Ring& ring() { return *ring_; }

private:
    void* memory_ = nullptr;
    Ring* ring_ = nullptr;
};

// The child: pushes numbered records as fast as it can, publishing every
// `batch` records (so pushed-but-unpublished records exist when it dies),
// until it is killed. Only memory writes: nothing that is unsafe after fork().
[[noreturn]] void run_producer(Ring& ring, std::uint64_t generation, std::uint64_t batch) {
    RingProducer producer{ring};
    for (std::uint64_t sequence = 0;; ++sequence) {
        const KillRecord record = make_record(generation, sequence);
        while (!producer.try_push(record)) {
            producer.publish();
            clusterd::cpu_relax();
        }
        if ((sequence + 1) % batch == 0) producer.publish();
    }
}

// Kills and reaps the child if the test leaves early, so no producer outlives it.
class ChildGuard {
public:
    explicit ChildGuard(pid_t pid) : pid_(pid) {}
    ChildGuard(const ChildGuard&) = delete;
    ChildGuard& operator=(const ChildGuard&) = delete;
    ~ChildGuard() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            (void)reap();
        }
    }
    // Waits for our child only (never waitpid(-1)); returns the wait status.
    int reap() {
        int status = 0;
        pid_t got = 0;
        do {
            got = ::waitpid(pid_, &status, 0);
        } while (got < 0 && errno == EINTR);
        pid_ = -1;
        return got < 0 ? -1 : status;
    }
    [[nodiscard]] pid_t pid() const { return pid_; }

private:
    pid_t pid_;
};

struct Tally {
    std::uint64_t next_sequence = 0;  // what the next record of this generation must carry
    std::uint64_t broken = 0;         // torn, stale or out of order
};

void check(const KillRecord& record, std::uint64_t generation, Tally& tally) {
    const bool whole = record.checksum == checksum_of(record) && record.generation == generation &&
                       record.payload[0] == record.sequence && record.payload[4] == record.sequence;
    if (!whole || record.sequence != tally.next_sequence) ++tally.broken;
    tally.next_sequence = record.sequence + 1;
}

// Pops what is published now; returns how many records came out.
std::uint64_t consume(RingConsumer<KillRecord, 512>& consumer, std::uint64_t generation, Tally& tally) {
    std::array<KillRecord, 64> out;
    std::uint64_t total = 0;
    for (;;) {
        const RingRead read = consumer.pop_batch(out);
        REQUIRE_FALSE(read.corrupted);
        for (std::size_t i = 0; i < read.count; ++i) check(out[i], generation, tally);
        consumer.release();
        total += read.count;
        if (read.count < out.size()) return total;
    }
}

}  // namespace

TEST_CASE("a producer killed at random points never leaves a torn record and its successor works",
          "[common][spsc_ring][process]") {
    constexpr int kills = 50;
    SharedRing shared;
    RingConsumer consumer{shared.ring()};
    const auto seed = std::random_device{}();
    CAPTURE(seed);
    std::mt19937 random(seed);
    std::uint64_t delivered = 0;
    int full_ring_kills = 0;

    for (int generation = 1; generation <= kills; ++generation) {
        CAPTURE(generation);
        const auto batch = std::uniform_int_distribution<std::uint64_t>(1, 16)(random);
        const pid_t pid =
            fork_child([&] { run_producer(shared.ring(), static_cast<std::uint64_t>(generation), batch); });
        REQUIRE(pid >= 0);
        ChildGuard child(pid);
        Tally tally;

        // The successor of a reset ring must deliver: wait (bounded) for its first record.
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (consume(consumer, static_cast<std::uint64_t>(generation), tally) == 0) {
            REQUIRE(std::chrono::steady_clock::now() < give_up);
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }

        // Then let it run for a random while, either consuming alongside it or
        // leaving the ring full so that it dies spinning on a full ring.
        const bool keep_consuming = std::uniform_int_distribution<int>(0, 3)(random) != 0;
        const auto run_for = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(random));
        const auto kill_at = std::chrono::steady_clock::now() + run_for;
        while (std::chrono::steady_clock::now() < kill_at) {
            if (keep_consuming) {
                (void)consume(consumer, static_cast<std::uint64_t>(generation), tally);
            } else {
                std::this_thread::sleep_for(run_for);
            }
        }
        if (!keep_consuming) ++full_ring_kills;

        REQUIRE(::kill(child.pid(), SIGKILL) == 0);
        const int status = child.reap();
        REQUIRE(WIFSIGNALED(status));
        REQUIRE(WTERMSIG(status) == SIGKILL);

        // Drain what the dead producer committed: whole, in order, nothing after it.
        (void)consume(consumer, static_cast<std::uint64_t>(generation), tally);
        REQUIRE(tally.broken == 0);
        REQUIRE(tally.next_sequence > 0);
        delivered += tally.next_sequence;
        consumer.reset();
    }
    CAPTURE(delivered, full_ring_kills);
    SUCCEED("all producers' committed records were whole and in order");
}
