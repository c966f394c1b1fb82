#include "common/seqlock.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

using clusterd::Seqlock;

namespace {

// Sixteen words that a consistent read always finds equal.
struct Stamp {
    std::uint64_t words[16] = {};
};

Stamp stamp_of(std::uint64_t value) {
    Stamp stamp;
    for (auto& word : stamp.words) word = value;
    return stamp;
}

// A size that is not a multiple of the 8-byte copy unit.
struct Odd {
    char text[13] = {};
};

// The sequence a writer killed between its two increments leaves behind.
// Seqlock is standard-layout and its sequence is the first member, so it is
// pointer-interconvertible with the object: the same bytes a crashed process
// would have left in the segment.
template <typename T>
std::atomic<std::uint64_t>& sequence_of(Seqlock<T>& lock) {
    static_assert(std::is_standard_layout_v<Seqlock<T>>);
    return *reinterpret_cast<std::atomic<std::uint64_t>*>(&lock);
}

}  // namespace

TEST_CASE("a fresh seqlock reads as a zero record", "[common][seqlock]") {
    Seqlock<Stamp> lock;
    const auto value = lock.try_read();
    REQUIRE(value.has_value());
    for (std::uint64_t word : value->words) REQUIRE(word == 0);
}

TEST_CASE("a read returns exactly the last record written", "[common][seqlock]") {
    SECTION("a record of whole words") {
        Seqlock<Stamp> lock;
        lock.write(stamp_of(7));
        lock.write(stamp_of(8));
        const auto value = lock.try_read();
        REQUIRE(value.has_value());
        for (std::uint64_t word : value->words) REQUIRE(word == 8);
    }
    SECTION("a record whose size is not a multiple of eight bytes") {
        Seqlock<Odd> lock;
        Odd odd;
        std::memcpy(odd.text, "hello, world", 13);
        lock.write(odd);
        const auto value = lock.try_read();
        REQUIRE(value.has_value());
        REQUIRE(std::memcmp(value->text, "hello, world", 13) == 0);
    }
}

TEST_CASE("a writer that died in the middle of a write makes readers give up, not spin", "[common][seqlock]") {
    Seqlock<Stamp> lock;
    lock.write(stamp_of(1));
    auto& sequence = sequence_of(lock);
    REQUIRE(sequence.load() == 2);
    sequence.store(3);  // odd: a write began and never ended

    REQUIRE_FALSE(lock.try_read().has_value());
    REQUIRE_FALSE(lock.try_read(1).has_value());
    REQUIRE_FALSE(lock.try_read(0).has_value());

    SECTION("the next writer repairs the sequence") {
        lock.write(stamp_of(2));
        REQUIRE(sequence.load() % 2 == 0);
        REQUIRE(sequence.load() > 3);
        const auto value = lock.try_read();
        REQUIRE(value.has_value());
        for (std::uint64_t word : value->words) REQUIRE(word == 2);
    }
}

TEST_CASE("readers never see a torn record while one writer keeps rewriting it", "[common][seqlock]") {
#if defined(__SANITIZE_THREAD__)
    constexpr std::uint64_t writes = 100'000;
#else
    constexpr std::uint64_t writes = 1'000'000;
#endif
    constexpr int reader_count = 2;
    auto lock = std::make_unique<Seqlock<Stamp>>();
    std::atomic<bool> done{false};

    struct ReaderTally {
        std::uint64_t consistent = 0;
        std::uint64_t gave_up = 0;
        std::uint64_t torn = 0;
        std::uint64_t went_back = 0;
    };
    std::vector<ReaderTally> tallies(reader_count);
    std::vector<std::thread> readers;
    for (int r = 0; r < reader_count; ++r) {
        readers.emplace_back([&lock, &done, &tally = tallies[static_cast<std::size_t>(r)]] {
            std::uint64_t last = 0;
            // One more pass after the writer finished, so every reader reads at least once.
            bool finished = false;
            while (!finished) {
                finished = done.load(std::memory_order_acquire);
                const auto value = lock->try_read();
                if (!value) {
                    ++tally.gave_up;
                    continue;
                }
                ++tally.consistent;
                const std::uint64_t first = value->words[0];
                for (std::uint64_t word : value->words) {
                    if (word != first) {
                        ++tally.torn;
                        break;
                    }
                }
                if (first < last) ++tally.went_back;
                last = first;
            }
        });
    }

    std::thread writer([&lock, &done] {
        for (std::uint64_t i = 1; i <= writes; ++i) lock->write(stamp_of(i));
        done.store(true, std::memory_order_release);
    });
    writer.join();
    for (auto& reader : readers) reader.join();

    for (const ReaderTally& tally : tallies) {
        CAPTURE(tally.consistent, tally.gave_up);
        REQUIRE(tally.torn == 0);
        REQUIRE(tally.went_back == 0);
        REQUIRE(tally.consistent > 0);
    }
    const auto final_value = lock->try_read();
    REQUIRE(final_value.has_value());
    REQUIRE(final_value->words[0] == writes);
}
