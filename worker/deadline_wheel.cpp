#include "worker/deadline_wheel.hpp"

#include <algorithm>
#include <cassert>

namespace clusterd::worker {
namespace {

// 512 slots: at a 250 ms tick one turn is 128 s, longer than every default
// timeout, so an entry is usually visited once, when it is due.
constexpr std::size_t slot_count = 512;

std::int64_t tick_at_or_after(std::int64_t ms, std::int64_t tick_ms) { return (ms + tick_ms - 1) / tick_ms; }

}  // namespace

DeadlineWheel::DeadlineWheel(uv_loop_t* loop, Millis tick, Expired expired)
    : loop_(loop), tick_ms_(std::max<std::int64_t>(1, tick.count())), expired_(expired), slots_(slot_count) {
    for (Slot& slot : slots_) slot.head.prev_ = slot.head.next_ = &slot.head;
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
}

DeadlineWheel::~DeadlineWheel() { assert(armed_ == 0 || closed_); }

Millis DeadlineWheel::tick_for(Millis shortest_timeout) {
    return std::clamp(Millis{shortest_timeout.count() / 4}, Millis{10}, Millis{250});
}

void DeadlineWheel::link(Entry& head, Entry& entry) {
    entry.prev_ = head.prev_;
    entry.next_ = &head;
    head.prev_->next_ = &entry;
    head.prev_ = &entry;
}

void DeadlineWheel::unlink(Entry& entry) {
    entry.prev_->next_ = entry.next_;
    entry.next_->prev_ = entry.prev_;
    entry.prev_ = entry.next_ = nullptr;
}

void DeadlineWheel::arm(Entry& entry, Millis timeout) {
    assert(!closed_);
    if (entry.armed()) {
        unlink(entry);
    } else {
        ++armed_;
    }
    const auto now = static_cast<std::int64_t>(uv_now(loop_));
    if (!running_) {
        // The wheel was empty (the timer stops only then): the ticks start from now.
        next_tick_ = now / tick_ms_ + 1;
        running_ = true;
        uv_timer_start(&timer_, on_tick, static_cast<std::uint64_t>(tick_ms_), static_cast<std::uint64_t>(tick_ms_));
    }
    entry.deadline_ms_ = now + std::max<std::int64_t>(0, timeout.count());
    // Never a tick already visited: that slot's next visit is a turn away.
    const std::int64_t tick = std::max(tick_at_or_after(entry.deadline_ms_, tick_ms_), next_tick_);
    link(slots_[static_cast<std::size_t>(tick) % slot_count].head, entry);
}

void DeadlineWheel::disarm(Entry& entry) {
    if (!entry.armed()) return;
    unlink(entry);
    --armed_;
}

void DeadlineWheel::close() {
    if (closed_) return;
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void DeadlineWheel::on_tick(uv_timer_t* timer) {
    auto* self = static_cast<DeadlineWheel*>(timer->data);
    self->expire_due(static_cast<std::int64_t>(uv_now(self->loop_)));
    if (self->armed_ == 0 && self->running_ && !self->closed_) {
        self->running_ = false;
        uv_timer_stop(&self->timer_);
    }
}

void DeadlineWheel::expire_due(std::int64_t now_ms) {
    const std::int64_t last = now_ms / tick_ms_;  // the last tick whose time has come
    if (next_tick_ > last) return;
    // A loop that was blocked for more than a turn visits every slot once.
    const std::int64_t first = std::max(next_tick_, last - static_cast<std::int64_t>(slot_count) + 1);
    next_tick_ = last + 1;
    for (std::int64_t tick = first; tick <= last; ++tick) {
        expire_slot(slots_[static_cast<std::size_t>(tick) % slot_count], now_ms);
    }
}

void DeadlineWheel::expire_slot(Slot& slot, std::int64_t now_ms) {
    // The due entries move to a list of their own first: a callback may arm,
    // disarm or re-arm any entry, this slot's included, while we walk.
    Entry due;
    due.prev_ = due.next_ = &due;
    for (Entry* entry = slot.head.next_; entry != &slot.head;) {
        Entry* next = entry->next_;
        if (entry->deadline_ms_ <= now_ms) {
            unlink(*entry);
            link(due, *entry);
        }
        entry = next;
    }
    while (due.next_ != &due) {
        Entry& entry = *due.next_;
        unlink(entry);
        --armed_;
        expired_(entry);
    }
}

}  // namespace clusterd::worker
