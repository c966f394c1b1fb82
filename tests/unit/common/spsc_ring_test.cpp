#include "common/spsc_ring.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "common/seqlock.hpp"  // cpu_relax

using clusterd::RingConsumer;
using clusterd::RingProducer;
using clusterd::RingRead;
using clusterd::SpscRing;

namespace {

// A 64-byte record that checks itself: every payload word is the sequence
// number, the last word a checksum over them.
struct TestRecord {
    std::uint64_t sequence = 0;
    std::uint64_t payload[6] = {};
    std::uint64_t checksum = 0;
};
static_assert(sizeof(TestRecord) == 64);

constexpr std::uint64_t checksum_of(const TestRecord& record) {
    std::uint64_t sum = record.sequence * 0x9e3779b97f4a7c15ULL;
    for (std::uint64_t word : record.payload) sum = (sum ^ word) * 0x100000001b3ULL;
    return sum;
}

TestRecord make_record(std::uint64_t sequence) {
    TestRecord record;
    record.sequence = sequence;
    for (auto& word : record.payload) word = sequence;
    record.checksum = checksum_of(record);
    return record;
}

bool is_whole(const TestRecord& record) {
    for (std::uint64_t word : record.payload) {
        if (word != record.sequence) return false;
    }
    return record.checksum == checksum_of(record);
}

using SmallRing = SpscRing<TestRecord, 8>;

// Spin a little, then let the other thread run: on a busy two-CPU machine both
// threads may share one CPU, and pure spinning would then move one ring's worth
// of records per scheduler time slice.
void back_off(unsigned& idle_spins) {
    if (++idle_spins < 64) {
        clusterd::cpu_relax();
    } else {
        idle_spins = 0;
        std::this_thread::yield();
    }
}

// Pops everything published, releases it, and returns the records.
std::vector<TestRecord> drain(RingConsumer<TestRecord, 8>& consumer) {
    std::vector<TestRecord> records;
    std::array<TestRecord, 3> buffer;  // smaller than the ring: several pops per drain
    for (;;) {
        const RingRead read = consumer.pop_batch(buffer);
        REQUIRE_FALSE(read.corrupted);
        if (read.count == 0) break;
        records.insert(records.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(read.count));
    }
    consumer.release();
    return records;
}

}  // namespace

TEST_CASE("head, tail and the slots each start their own cache line", "[common][spsc_ring]") {
    STATIC_REQUIRE(offsetof(SmallRing, head) % 64 == 0);
    STATIC_REQUIRE(offsetof(SmallRing, tail) - offsetof(SmallRing, head) >= 64);
    STATIC_REQUIRE(offsetof(SmallRing, slots) - offsetof(SmallRing, tail) >= 64);
    STATIC_REQUIRE(alignof(SmallRing) == 64);
    STATIC_REQUIRE(std::is_standard_layout_v<SmallRing>);
}

TEST_CASE("an empty ring pops nothing and is not corrupted", "[common][spsc_ring]") {
    auto ring = std::make_unique<SmallRing>();
    RingConsumer consumer{*ring};
    std::array<TestRecord, 4> out;
    for (int i = 0; i < 3; ++i) {
        const RingRead read = consumer.pop_batch(out);
        REQUIRE(read.count == 0);
        REQUIRE_FALSE(read.corrupted);
    }
    REQUIRE(consumer.pop_batch(std::span<TestRecord>{}).count == 0);
}

TEST_CASE("a pushed record stays invisible until the producer publishes it", "[common][spsc_ring]") {
    auto ring = std::make_unique<SmallRing>();
    RingProducer producer{*ring};
    RingConsumer consumer{*ring};

    REQUIRE(producer.try_push(make_record(0)));
    REQUIRE(producer.try_push(make_record(1)));
    REQUIRE(producer.unpublished() == 2);
    REQUIRE(drain(consumer).empty());

    producer.publish();
    REQUIRE(producer.unpublished() == 0);
    const auto records = drain(consumer);
    REQUIRE(records.size() == 2);
    REQUIRE(records[0].sequence == 0);
    REQUIRE(records[1].sequence == 1);
}

TEST_CASE("records come out whole and in order across many wrap-arounds", "[common][spsc_ring]") {
    auto ring = std::make_unique<SmallRing>();
    RingProducer producer{*ring};
    RingConsumer consumer{*ring};
    std::uint64_t next_in = 0;
    std::uint64_t next_out = 0;
    // Batch sizes that are not divisors of the capacity, so records straddle
    // the end of the slot array in every position.
    for (int round = 0; round < 500; ++round) {
        const std::size_t batch = 1 + static_cast<std::size_t>(round) % 7;
        for (std::size_t i = 0; i < batch; ++i) REQUIRE(producer.try_push(make_record(next_in++)));
        producer.publish();
        for (const TestRecord& record : drain(consumer)) {
            REQUIRE(is_whole(record));
            REQUIRE(record.sequence == next_out++);
        }
    }
    REQUIRE(next_out == next_in);
    REQUIRE(ring->head.load() == next_in);
    REQUIRE(ring->tail.load() == next_in);
}

TEST_CASE("a full ring refuses a push and the caller counts the drop", "[common][spsc_ring]") {
    auto ring = std::make_unique<SmallRing>();
    RingProducer producer{*ring};
    RingConsumer consumer{*ring};
    std::uint64_t drops = 0;
    for (std::uint64_t i = 0; i < 12; ++i) {
        if (!producer.try_push(make_record(i))) ++drops;
    }
    producer.publish();
    REQUIRE(drops == 4);

    const auto records = drain(consumer);
    REQUIRE(records.size() == 8);
    for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(records[i].sequence == i);

    SECTION("released slots can be pushed again") {
        REQUIRE(producer.try_push(make_record(100)));
        producer.publish();
        const auto more = drain(consumer);
        REQUIRE(more.size() == 1);
        REQUIRE(more[0].sequence == 100);
    }
}

TEST_CASE("popped slots stay reserved until the consumer releases them", "[common][spsc_ring]") {
    auto ring = std::make_unique<SmallRing>();
    RingProducer producer{*ring};
    RingConsumer consumer{*ring};
    for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(producer.try_push(make_record(i)));
    producer.publish();

    std::array<TestRecord, 8> out;
    REQUIRE(consumer.pop_batch(out).count == 8);
    REQUIRE_FALSE(producer.try_push(make_record(8)));  // the consumer may still be copying

    consumer.release();
    REQUIRE(producer.try_push(make_record(8)));
}

TEST_CASE("pop_batch copies at most the room it is given, record by record", "[common][spsc_ring]") {
    auto ring = std::make_unique<SmallRing>();
    RingProducer producer{*ring};
    RingConsumer consumer{*ring};
    for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(producer.try_push(make_record(i)));
    producer.publish();

    std::array<TestRecord, 2> out;
    RingRead read = consumer.pop_batch(out);
    REQUIRE(read.count == 2);
    REQUIRE(out[0].sequence == 0);
    REQUIRE(out[1].sequence == 1);
    read = consumer.pop_batch(std::span<TestRecord>{out}.first(1));
    REQUIRE(read.count == 1);
    REQUIRE(out[0].sequence == 2);
    read = consumer.pop_batch(out);
    REQUIRE(read.count == 2);
    REQUIRE(out[0].sequence == 3);
    REQUIRE(out[1].sequence == 4);
    REQUIRE(is_whole(out[0]));
    REQUIRE(is_whole(out[1]));
    REQUIRE(consumer.pop_batch(out).count == 0);
}

TEST_CASE("try_push_batch pushes what fits, publishes it and leaves the rest to the caller", "[common][spsc_ring]") {
    auto ring = std::make_unique<SmallRing>();
    RingProducer producer{*ring};
    RingConsumer consumer{*ring};
    std::vector<TestRecord> batch;
    for (std::uint64_t i = 0; i < 5; ++i) batch.push_back(make_record(i));

    REQUIRE(producer.try_push_batch(batch) == 5);
    REQUIRE(producer.unpublished() == 0);
    REQUIRE(producer.try_push_batch(batch) == 3);  // 8 slots, 5 taken
    REQUIRE(producer.try_push_batch(batch) == 0);

    const auto records = drain(consumer);
    REQUIRE(records.size() == 8);
    const std::uint64_t expected[] = {0, 1, 2, 3, 4, 0, 1, 2};
    for (std::size_t i = 0; i < 8; ++i) REQUIRE(records[i].sequence == expected[i]);
    REQUIRE(producer.try_push_batch(std::span<const TestRecord>{}) == 0);
}

TEST_CASE("after reset the next producer starts on an empty ring", "[common][spsc_ring]") {
    auto ring = std::make_unique<SmallRing>();
    RingConsumer consumer{*ring};
    {
        RingProducer dead{*ring};
        for (std::uint64_t i = 0; i < 6; ++i) REQUIRE(dead.try_push(make_record(i)));
        dead.publish();
        REQUIRE(dead.try_push(make_record(6)));  // pushed, never published: lost with its producer
    }
    REQUIRE(drain(consumer).size() == 6);
    consumer.reset();
    REQUIRE(ring->head.load() == 0);
    REQUIRE(ring->tail.load() == 0);

    RingProducer successor{*ring};
    for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(successor.try_push(make_record(1000 + i)));
    successor.publish();
    const auto records = drain(consumer);
    REQUIRE(records.size() == 8);
    for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(records[i].sequence == 1000 + i);
}

TEST_CASE("a producer reset drops what a dead consumer left behind", "[common][spsc_ring]") {
    auto ring = std::make_unique<SmallRing>();
    RingProducer producer{*ring};
    for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(producer.try_push(make_record(i)));
    producer.publish();
    REQUIRE_FALSE(producer.try_push(make_record(8)));

    producer.reset();
    RingConsumer successor{*ring};
    REQUIRE(producer.try_push(make_record(42)));
    producer.publish();
    const auto records = drain(successor);
    REQUIRE(records.size() == 1);
    REQUIRE(records[0].sequence == 42);
}

TEST_CASE("an impossible head is reported as corruption and nothing is read", "[common][spsc_ring]") {
    auto ring = std::make_unique<SmallRing>();
    RingProducer producer{*ring};
    RingConsumer consumer{*ring};
    for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(producer.try_push(make_record(i)));
    producer.publish();
    std::array<TestRecord, 2> out;
    REQUIRE(consumer.pop_batch(out).count == 2);  // consumer at 2, has seen head 4

    SECTION("head more than a capacity ahead of the consumer") { ring->head.store(2 + 9); }
    SECTION("head behind what the consumer already saw") { ring->head.store(3); }
    SECTION("head behind the consumer's own position") { ring->head.store(1); }
    SECTION("head all ones") { ring->head.store(~std::uint64_t{0}); }
    // Found by tests/fuzz (log_ring): within a capacity of what the consumer
    // popped, but beyond a capacity of what it released (0 here): no correct
    // producer can publish that without overwriting slots still held.
    SECTION("head more than a capacity ahead of what the consumer released") { ring->head.store(0 + 9); }

    std::array<TestRecord, 8> wide;  // wider than what is cached: forces a load of head
    for (int call = 0; call < 3; ++call) {
        const RingRead read = consumer.pop_batch(wide);
        REQUIRE(read.corrupted);
        REQUIRE(read.count == 0);
    }
    REQUIRE(consumer.producer_corrupted());

    consumer.reset();
    REQUIRE_FALSE(consumer.producer_corrupted());
    RingProducer successor{*ring};
    REQUIRE(successor.try_push(make_record(7)));
    successor.publish();
    const auto records = drain(consumer);
    REQUIRE(records.size() == 1);
    REQUIRE(records[0].sequence == 7);
}

TEST_CASE("a head exactly a capacity ahead is accepted and read in bounds", "[common][spsc_ring]") {
    // A broken producer can publish a full ring of garbage; that is not
    // detectable from the indices, only from the records.
    auto ring = std::make_unique<SmallRing>();
    RingConsumer consumer{*ring};
    ring->head.store(8);
    std::array<TestRecord, 16> out;
    const RingRead read = consumer.pop_batch(out);
    REQUIRE_FALSE(read.corrupted);
    REQUIRE(read.count == 8);
}

TEST_CASE("an impossible tail makes the producer refuse every push", "[common][spsc_ring]") {
    auto ring = std::make_unique<SmallRing>();
    RingProducer producer{*ring};
    RingConsumer consumer{*ring};
    for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(producer.try_push(make_record(i)));
    producer.publish();
    std::array<TestRecord, 4> out;
    REQUIRE(consumer.pop_batch(out).count == 4);
    consumer.release();  // tail 4
    REQUIRE(producer.try_push(make_record(8)));  // producer caches tail 4, head 9

    SECTION("tail past head") { ring->tail.store(20); }
    SECTION("tail moved backwards") { ring->tail.store(2); }

    // Fill what the cache allows, then the producer must look at tail again.
    std::uint64_t pushed = 0;
    while (producer.try_push(make_record(100 + pushed))) ++pushed;
    REQUIRE(pushed == 3);
    REQUIRE(producer.consumer_corrupted());
    REQUIRE_FALSE(producer.try_push(make_record(200)));
    REQUIRE(producer.try_push_batch(out) == 0);

    producer.reset();
    REQUIRE_FALSE(producer.consumer_corrupted());
    REQUIRE(producer.try_push(make_record(300)));
}

TEST_CASE("two threads move a long stream of records through a small ring in order and without loss",
          "[common][spsc_ring]") {
    using Ring = SpscRing<TestRecord, 256>;
#if defined(__SANITIZE_THREAD__)
    constexpr std::uint64_t total = 200'000;  // ThreadSanitizer is ~10x slower; the interleavings are the point
#else
    constexpr std::uint64_t total = 2'000'000;
#endif
    auto ring = std::make_unique<Ring>();

    std::thread producer_thread([&ring] {
        RingProducer producer{*ring};
        std::uint64_t next = 0;
        unsigned idle_spins = 0;
        while (next < total) {
            if (producer.try_push(make_record(next))) {
                ++next;
                if (next % 32 == 0) producer.publish();
            } else {
                producer.publish();
                back_off(idle_spins);
            }
        }
        producer.publish();
    });

    RingConsumer consumer{*ring};
    std::array<TestRecord, 64> out;
    std::uint64_t expected = 0;
    std::uint64_t broken = 0;
    unsigned idle_spins = 0;
    while (expected < total) {
        const RingRead read = consumer.pop_batch(out);
        REQUIRE_FALSE(read.corrupted);
        for (std::size_t i = 0; i < read.count; ++i) {
            // Count instead of REQUIRE per record: two million assertions are slow.
            if (out[i].sequence != expected || !is_whole(out[i])) ++broken;
            ++expected;
        }
        consumer.release();
        if (read.count == 0) back_off(idle_spins);
    }
    producer_thread.join();
    REQUIRE(broken == 0);
    REQUIRE(expected == total);
    REQUIRE(consumer.pop_batch(out).count == 0);
}
