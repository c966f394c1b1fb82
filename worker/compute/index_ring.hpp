// A bounded FIFO of small integers (cell indices) between two sides of one
// process, where each side is one thread at a time: the event loop on one
// side, and on the other the pool threads, which take turns under a mutex of
// their own. The loop side therefore never waits for a lock: a compute thread
// (SCHED_BATCH, easily preempted) can hold the pool side's mutex for as long as
// the scheduler likes without the loop noticing. That was the point: with
// one mutex shared by loop and pool, the loop could wait for a preempted
// pool thread's next turn just to hand over a job or collect a result.
//
// Single producer, single consumer (per the above), acquire/release on two
// counters that only grow, as in common/spsc_ring.hpp but in private memory
// with a capacity chosen at run time; nothing here distrusts the other side.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

namespace clusterd::worker::compute {

class IndexRing {
public:
    explicit IndexRing(std::size_t capacity) : slots_(capacity) {}

    // Producer side. False when full (the caller sized the ring so it is not).
    bool push(std::uint32_t value) {
        const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
        if (tail - head_.load(std::memory_order_acquire) >= slots_.size()) return false;
        slots_[tail % slots_.size()] = value;
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }

    // Consumer side.
    std::optional<std::uint32_t> pop() {
        const std::uint64_t head = head_.load(std::memory_order_relaxed);
        if (head == tail_.load(std::memory_order_acquire)) return std::nullopt;
        const std::uint32_t value = slots_[head % slots_.size()];
        head_.store(head + 1, std::memory_order_release);
        return value;
    }

    // Either side; a snapshot.
    [[nodiscard]] std::uint64_t size() const {
        // head first: tail only grows, so the tail read after it is never behind it.
        const std::uint64_t head = head_.load(std::memory_order_acquire);
        return tail_.load(std::memory_order_acquire) - head;
    }

private:
    std::vector<std::uint32_t> slots_;
    alignas(64) std::atomic<std::uint64_t> head_{0};  // written by the consumer only
    alignas(64) std::atomic<std::uint64_t> tail_{0};  // written by the producer only
};

}  // namespace clusterd::worker::compute
