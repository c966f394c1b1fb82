// The loop's one timer for every connection's timeouts: entries expire once
// their timeout has passed on the loop's clock, never before, each exactly
// once, and the wheel's timer leaves a loop with nothing armed free to end.
#include "worker/deadline_wheel.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

using namespace clusterd;
using namespace clusterd::worker;
using namespace std::chrono_literals;

namespace {

struct Fired {
    int id = 0;
    std::int64_t at_ms = 0;
};

// An owner of an entry, as a Connection is: it learns of its expiry through owner().
struct Owner {
    int id = 0;
    std::int64_t armed_at_ms = 0;
    Millis timeout{0};
    std::vector<Fired>* fired = nullptr;
    uv_loop_t* loop = nullptr;
    DeadlineWheel* wheel = nullptr;
    int rearm = 0;                 // arm itself again this many times on expiry
    Owner* disarm_other = nullptr;  // disarm this one on expiry
    DeadlineWheel::Entry entry{this};

    void arm(Millis t) {
        timeout = t;
        armed_at_ms = static_cast<std::int64_t>(uv_now(loop));
        wheel->arm(entry, t);
    }
    static void on_expired(DeadlineWheel::Entry& entry) {
        auto* self = static_cast<Owner*>(entry.owner());
        self->fired->push_back({self->id, static_cast<std::int64_t>(uv_now(self->loop))});
        CHECK(uv_now(self->loop) >= static_cast<std::uint64_t>(self->armed_at_ms + self->timeout.count()));
        if (self->disarm_other != nullptr) self->wheel->disarm(self->disarm_other->entry);
        if (self->rearm > 0) {
            --self->rearm;
            self->arm(self->timeout);
        }
    }
};

struct Fixture {
    Fixture(Millis tick = 5ms) {
        REQUIRE(uv_loop_init(&loop) == 0);
        wheel.emplace(&loop, tick, Owner::on_expired);
    }
    Owner& owner(int id) {
        owners.push_back(std::make_unique<Owner>());
        Owner& o = *owners.back();
        o.id = id;
        o.fired = &fired;
        o.loop = &loop;
        o.wheel = &*wheel;
        return o;
    }
    // Runs until the wheel's timer stops by itself (nothing armed), then closes everything.
    void run_until_empty() {
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(wheel->armed_count() == 0);
        wheel->close();
        uv_run(&loop, UV_RUN_DEFAULT);
        REQUIRE(uv_loop_close(&loop) == 0);
    }
    uv_loop_t loop{};
    std::optional<DeadlineWheel> wheel;
    std::vector<std::unique_ptr<Owner>> owners;
    std::vector<Fired> fired;
};

std::vector<int> ids(const std::vector<Fired>& fired) {
    std::vector<int> out;
    for (const auto& f : fired) out.push_back(f.id);
    return out;
}

}  // namespace

TEST_CASE("an armed entry expires once, after its timeout, and the loop then ends", "[worker][deadline_wheel]") {
    Fixture f;
    f.owner(1).arm(30ms);
    f.owner(2).arm(0ms);
    f.owner(3).arm(12ms);
    f.run_until_empty();  // the CHECK in on_expired: none before its deadline
    CHECK(ids(f.fired) == std::vector<int>{2, 3, 1});
}

TEST_CASE("a disarmed entry never expires, a re-armed one expires at its new deadline only",
          "[worker][deadline_wheel]") {
    Fixture f;
    Owner& gone = f.owner(1);
    Owner& moved = f.owner(2);
    f.owner(3).arm(20ms);
    gone.arm(10ms);
    moved.arm(5ms);
    f.wheel->disarm(gone.entry);
    f.wheel->disarm(gone.entry);  // twice is harmless
    CHECK_FALSE(gone.entry.armed());
    moved.arm(40ms);  // later than 3's: it fires last, once
    CHECK(f.wheel->armed_count() == 2);
    f.run_until_empty();
    CHECK(ids(f.fired) == std::vector<int>{3, 2});
}

TEST_CASE("an expiry may re-arm its own entry and disarm another due in the same tick", "[worker][deadline_wheel]") {
    Fixture f(50ms);
    Owner& first = f.owner(1);
    Owner& second = f.owner(2);
    first.rearm = 2;
    first.disarm_other = &second;
    first.arm(1ms);
    second.arm(2ms);  // same tick as first: whichever runs first, second is disarmed or has fired once
    f.run_until_empty();
    int firsts = 0;
    int seconds = 0;
    for (const auto& fired : f.fired) (fired.id == 1 ? firsts : seconds)++;
    CHECK(firsts == 3);
    CHECK(seconds <= 1);
}

TEST_CASE("a deadline more than one turn of the wheel away waits for its own turn", "[worker][deadline_wheel]") {
    Fixture f(1ms);  // 512 slots of 1 ms: 700 ms is more than a turn
    f.owner(1).arm(700ms);
    f.owner(2).arm(100ms);
    f.run_until_empty();
    CHECK(ids(f.fired) == std::vector<int>{2, 1});
}

TEST_CASE("the tick is a quarter of the shortest timeout, from 10 to 250 ms", "[worker][deadline_wheel]") {
    CHECK(DeadlineWheel::tick_for(250ms) == 62ms);
    CHECK(DeadlineWheel::tick_for(5s) == 250ms);
    CHECK(DeadlineWheel::tick_for(1ms) == 10ms);
}
