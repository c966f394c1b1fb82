// One coarse timer per event loop for every connection's timeouts (header,
// idle, drain quiet, send, linger), instead of a uv_timer_t per connection
// started and stopped on every request: a hashed timer wheel.
//
// An Entry is embedded in its owner (intrusive, no allocation); arm() puts
// it in the slot of the first tick at or after its deadline, disarm() takes
// it out, both O(1). One repeating uv_timer_t visits the slots tick by tick
// and expires the entries whose deadline has passed (an entry more than one
// turn of the wheel ahead stays for a later turn). So a deadline fires never
// early and less than two ticks late (its tick, and the timer's phase); the
// tick is chosen by the owner (the worker: a quarter of its shortest
// timeout, 10 to 250 ms).
//
// The timer runs only while entries may be armed: it is started by the first
// arm() and stops itself at a tick that finds the wheel empty, so a
// request/response ping-pong never touches it.
//
// Threading: the loop's thread only.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/units.hpp"

namespace clusterd::worker {

class DeadlineWheel {
public:
    // A place in the wheel; unarmed when constructed. Its owner must disarm
    // it before it is destroyed.
    class Entry {
    public:
        explicit Entry(void* owner = nullptr) : owner_(owner) {}
        Entry(const Entry&) = delete;
        Entry& operator=(const Entry&) = delete;
        [[nodiscard]] bool armed() const { return next_ != nullptr; }
        [[nodiscard]] void* owner() const { return owner_; }

    private:
        friend class DeadlineWheel;
        void* owner_;
        Entry* prev_ = nullptr;
        Entry* next_ = nullptr;
        std::int64_t deadline_ms_ = 0;
    };
    // Called for an expired entry, which is disarmed by then (it may arm itself again).
    using Expired = void (*)(Entry& entry);

    DeadlineWheel(uv_loop_t* loop, Millis tick, Expired expired);
    ~DeadlineWheel();  // close() must have finished (the loop ran its callback) first
    DeadlineWheel(const DeadlineWheel&) = delete;
    DeadlineWheel& operator=(const DeadlineWheel&) = delete;

    // Expires `entry` once `timeout` from the loop's now has passed; an armed entry is moved.
    void arm(Entry& entry, Millis timeout);
    void disarm(Entry& entry);
    [[nodiscard]] std::size_t armed_count() const { return armed_; }
    [[nodiscard]] Millis tick() const { return Millis{tick_ms_}; }

    // Closes the timer handle (the loop can then finish); arm() must not be called afterwards.
    void close();

    // The tick the worker uses: a quarter of the shortest timeout, 10..250 ms.
    [[nodiscard]] static Millis tick_for(Millis shortest_timeout);

private:
    // A slot's list: a sentinel in a circle, so unlinking needs no list.
    struct Slot {
        Entry head;
    };
    static void on_tick(uv_timer_t* timer);
    void expire_due(std::int64_t now_ms);
    void expire_slot(Slot& slot, std::int64_t now_ms);
    static void link(Entry& head, Entry& entry);
    static void unlink(Entry& entry);

    uv_loop_t* loop_;
    std::int64_t tick_ms_;
    Expired expired_;
    std::vector<Slot> slots_;
    std::size_t armed_ = 0;
    std::int64_t next_tick_ = 0;  // the first tick index not yet visited
    uv_timer_t timer_{};
    bool running_ = false;
    bool closed_ = false;
};

}  // namespace clusterd::worker
