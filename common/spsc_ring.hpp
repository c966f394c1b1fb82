// A fixed-capacity single-producer/single-consumer ring of fixed-size records
// that lives entirely inside shared memory: worker → supervisor events and
// log records, supervisor → worker commands.
//
// Three pieces:
//   SpscRing<Record, Capacity>  the shared state: two indices and the slots.
//                               Standard layout, no pointers, placement-new'd
//                               (or init()'d) inside the segment.
//   RingProducer / RingConsumer one handle per side, in that side's private
//                               memory. Each keeps its own position and a
//                               cached copy of the other side's index, so the
//                               shared lines are touched only to publish or
//                               when the cache says full / empty.
//
//   auto* ring = new (segment + offset) SpscRing<Event, 256>();   // supervisor, at creation
//   RingProducer producer{*ring};                                  // worker
//   if (!producer.try_push(event)) ++dropped;   ...   producer.publish();
//   RingConsumer consumer{*ring};                                  // supervisor
//   RingRead read = consumer.pop_batch(buffer);  ...  consumer.release();
//   on reaping the worker: pop_batch() until count == 0, release(), reset().
//
// Who writes, who reads
//   head     written by the producer only (release), read by the consumer
//            (acquire). Counts records ever published; slot = index % Capacity.
//   tail     written by the consumer only (release), read by the producer
//            (acquire). Counts records ever released by the consumer.
//   slots[]  slot i is written by the producer only while it is free
//            (head - tail < Capacity), read by the consumer only while it is
//            published (tail <= i < head).
//   head, tail and slots start on separate 64-byte lines, so the two sides
//   never write the same cache line.
//   Both indices are 64-bit counters that only grow: they never wrap in
//   practice, so head - tail is the number of records in the ring.
//
// Why acquire/release is enough
//   The producer writes a slot with plain stores, then publishes it with
//   head.store(release); the consumer reads head with acquire before reading
//   the slot, so every byte of the record happens-before its read. The same
//   pair in the other direction (the consumer's tail.store(release) after its
//   reads, the producer's tail.load(acquire) before overwriting) keeps the
//   producer from overwriting a slot the consumer is still copying. No
//   read-modify-write and no fence is needed: each index has a single writer.
//
// A producer killed at any instruction
//   A record becomes visible only through the release store of head, a single
//   aligned 8-byte store (atomic: a process is stopped between instructions,
//   and stores already executed reach coherent memory even when the process
//   dies). Killed before that store, the record it was writing (and any it
//   pushed but did not publish()) is simply not there: the consumer sees the
//   old head and never reads a half-written slot. Killed after it, the record
//   is whole. Nothing the consumer does waits for the producer, so a dead
//   producer cannot stall it either.
//
// The consumer never trusts the producer
//   A crashing worker can scribble anything over the segment. The consumer
//   keeps its own position in private memory and, whenever it loads head,
//   checks that head did not move backwards and that head - tail <= Capacity;
//   otherwise pop_batch() reports corruption and reads nothing. Slot indices
//   are always masked, so no value of head reaches outside the ring, and every
//   call does a bounded amount of work. Records themselves are copied out
//   before the caller sees them and must be validated by the caller (a live
//   but broken producer that rewrites a published slot can tear that copy,
//   never more: the copy is all the caller ever looks at). The
//   producer applies the same checks to tail (the supervisor produces the
//   command ring and does not trust the worker consuming it either).
//
// Reset
//   When one side is dead (the supervisor has reaped it), the surviving side
//   drains what was published if it is the consumer, then calls reset() on its
//   own handle: both indices go back to 0 and the successor process attaches a
//   fresh handle. reset() must not run while the other side may still be alive.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace clusterd {

inline constexpr std::size_t ring_cache_line = 64;

template <typename Record, std::size_t Capacity>
struct SpscRing {
    static_assert(std::is_trivially_copyable_v<Record>, "records are copied through shared memory");
    static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0, "Capacity must be a power of two");
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared memory needs address-free atomics");

    using record_type = Record;
    static constexpr std::size_t capacity = Capacity;
    static constexpr std::uint64_t mask = Capacity - 1;

    // Only for memory that was not constructed as a SpscRing (placement-new
    // already zeroes both indices); never while a handle is attached.
    void init() noexcept {
        tail.store(0, std::memory_order_relaxed);
        head.store(0, std::memory_order_release);
    }

    // Touch these only through RingProducer and RingConsumer (tests scribble
    // on them to play a broken peer).
    alignas(ring_cache_line) std::atomic<std::uint64_t> head{0};
    alignas(ring_cache_line) std::atomic<std::uint64_t> tail{0};
    alignas(ring_cache_line) Record slots[Capacity];
};

// What a consumer got from one pop_batch().
struct RingRead {
    std::size_t count = 0;   // records copied out
    bool corrupted = false;  // the producer's head is impossible: nothing was read; reset the ring
};

// The producer's handle. Lives in the producer's private memory; one per ring.
template <typename Record, std::size_t Capacity>
class RingProducer {
public:
    using Ring = SpscRing<Record, Capacity>;
    static_assert(std::is_standard_layout_v<Ring>);

    // Attach to a ring that is initialised and not being reset.
    explicit RingProducer(Ring& ring) noexcept : ring_(&ring) { attach(); }

    // Copies `record` into the next free slot without publishing it. False
    // when the ring is full (or the consumer's index is impossible, see
    // consumer_corrupted()): the caller counts the drop. Never blocks.
    [[nodiscard]] bool try_push(const Record& record) noexcept {
        if (free_slots(1) == 0) return false;
        ring_->slots[head_ & Ring::mask] = record;
        ++head_;
        return true;
    }

    // Pushes as many of `records` as fit, in order, then publishes them all.
    // Returns how many were pushed; the rest are the caller's drops.
    [[nodiscard]] std::size_t try_push_batch(std::span<const Record> records) noexcept {
        const std::size_t n = free_slots(records.size());
        for (std::size_t i = 0; i < n; ++i) ring_->slots[(head_ + i) & Ring::mask] = records[i];
        head_ += n;
        publish();
        return n;
    }

    // Makes every record pushed so far visible to the consumer.
    void publish() noexcept {
        if (head_ != published_) {
            ring_->head.store(head_, std::memory_order_release);
            published_ = head_;
        }
    }

    // Records pushed but not yet published.
    [[nodiscard]] std::size_t unpublished() const noexcept { return static_cast<std::size_t>(head_ - published_); }

    // True once tail was seen to move backwards or past head: the consumer is
    // broken. Sticky until reset(); try_push() refuses everything meanwhile.
    [[nodiscard]] bool consumer_corrupted() const noexcept { return corrupted_; }

    // The consumer is dead: drop whatever it had not consumed and start from
    // empty. Only when the consumer cannot be running.
    void reset() noexcept {
        ring_->init();
        attach();
    }

private:
    // How many of `wanted` slots are free, refreshing the cached tail only
    // when the cache says there are not enough.
    std::size_t free_slots(std::size_t wanted) noexcept {
        if (corrupted_) return 0;
        std::uint64_t used = head_ - cached_tail_;
        if (Capacity - used < wanted) {
            const std::uint64_t tail = ring_->tail.load(std::memory_order_acquire);
            if (tail < cached_tail_ || tail > head_) {
                corrupted_ = true;
                return 0;
            }
            cached_tail_ = tail;
            used = head_ - tail;
        }
        return static_cast<std::size_t>(std::min<std::uint64_t>(Capacity - used, wanted));
    }

    void attach() noexcept {
        // Our own index: whatever we (or reset()) last stored.
        head_ = ring_->head.load(std::memory_order_relaxed);
        published_ = head_;
        cached_tail_ = ring_->tail.load(std::memory_order_acquire);
        corrupted_ = head_ < cached_tail_ || head_ - cached_tail_ > Capacity;
    }

    Ring* ring_;
    std::uint64_t head_ = 0;         // next record to write (pushed, maybe unpublished)
    std::uint64_t published_ = 0;    // last value stored to ring_->head
    std::uint64_t cached_tail_ = 0;  // ring_->tail as last seen
    bool corrupted_ = false;
};

// The consumer's handle. Lives in the consumer's private memory; one per ring.
template <typename Record, std::size_t Capacity>
class RingConsumer {
public:
    using Ring = SpscRing<Record, Capacity>;
    static_assert(std::is_standard_layout_v<Ring>);

    // Attach to a ring that is initialised and not being reset.
    explicit RingConsumer(Ring& ring) noexcept : ring_(&ring) { attach(); }

    // Copies up to out.size() published records, oldest first, into `out`.
    // Their slots stay reserved until release(). An empty ring gives
    // {0, false}; an impossible head gives {0, true} on this and every later
    // call until reset(). Bounded work, never blocks.
    [[nodiscard]] RingRead pop_batch(std::span<Record> out) noexcept {
        if (corrupted_) return {0, true};
        std::uint64_t available = cached_head_ - tail_;
        if (available < out.size()) {
            const std::uint64_t head = ring_->head.load(std::memory_order_acquire);
            // Unsigned: a head behind our position wraps to a huge distance.
            // Measured from what we released, not what we popped: a correct
            // producer never overwrites a slot we have not released, so a
            // head beyond released_ + Capacity is impossible (found by
            // tests/fuzz: it made us re-read slots we still held).
            if (head < cached_head_ || head - released_ > Capacity) {
                corrupted_ = true;
                return {0, true};
            }
            cached_head_ = head;
            available = head - tail_;
        }
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(available, out.size()));
        for (std::size_t i = 0; i < n; ++i) out[i] = ring_->slots[(tail_ + i) & Ring::mask];
        tail_ += n;
        return {n, false};
    }

    // Hands the slots of every record popped so far back to the producer.
    void release() noexcept {
        if (tail_ != released_) {
            ring_->tail.store(tail_, std::memory_order_release);
            released_ = tail_;
        }
    }

    // Sticky once pop_batch() reported corruption, until reset().
    [[nodiscard]] bool producer_corrupted() const noexcept { return corrupted_; }

    // The producer is dead and what it published has been drained: start from
    // empty for its successor. Only when the producer cannot be running.
    void reset() noexcept {
        ring_->init();
        attach();
    }

private:
    void attach() noexcept {
        // Our own index; head is loaded (and checked) by the first pop_batch().
        tail_ = ring_->tail.load(std::memory_order_relaxed);
        released_ = tail_;
        cached_head_ = tail_;
        corrupted_ = false;
    }

    Ring* ring_;
    std::uint64_t tail_ = 0;         // next record to read (popped, maybe unreleased)
    std::uint64_t released_ = 0;     // last value stored to ring_->tail
    std::uint64_t cached_head_ = 0;  // ring_->head as last seen and checked
    bool corrupted_ = false;
};

}  // namespace clusterd
