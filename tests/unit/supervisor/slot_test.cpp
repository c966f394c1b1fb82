#include <catch2/catch.hpp>

#include "supervisor/slot.hpp"

using namespace clusterd::supervisor;

namespace {

// The lifecycle of DESIGN.md, written out independently of slot.cpp's table.
bool expected_edge(SlotState from, SlotState to) {
    using S = SlotState;
    const std::pair<S, S> edges[] = {
        {S::empty, S::starting},    {S::starting, S::ready},  {S::starting, S::draining},
        {S::starting, S::exited},   {S::ready, S::draining},  {S::ready, S::exited},
        {S::draining, S::exited},   {S::exited, S::starting}, {S::exited, S::backoff},
        {S::exited, S::failed},     {S::exited, S::empty},    {S::backoff, S::starting},
        {S::backoff, S::empty},     {S::failed, S::starting}, {S::failed, S::empty},
    };
    for (auto [a, b] : edges) {
        if (a == from && b == to) return true;
    }
    return false;
}

// Walks a slot into `state` along legal edges.
void walk_to(Slots& slots, SlotState state) {
    using S = SlotState;
    auto go = [&](S to) { REQUIRE(slots.transition(0, to, "test")); };
    switch (state) {
        case S::empty: return;
        case S::starting: go(S::starting); return;
        case S::ready: go(S::starting); go(S::ready); return;
        case S::draining: go(S::starting); go(S::ready); go(S::draining); return;
        case S::exited: go(S::starting); go(S::exited); return;
        case S::backoff: go(S::starting); go(S::exited); go(S::backoff); return;
        case S::failed: go(S::starting); go(S::exited); go(S::failed); return;
    }
}

}  // namespace

TEST_CASE("a slot accepts exactly the edges of the lifecycle", "[supervisor][slot]") {
    const int from = GENERATE(range(0, slot_state_count));
    const int to = GENERATE(range(0, slot_state_count));
    CAPTURE(to_string(SlotState(from)), to_string(SlotState(to)));
    REQUIRE(is_legal_transition(SlotState(from), SlotState(to)) == expected_edge(SlotState(from), SlotState(to)));

    Slots slots(1, 0);
    walk_to(slots, SlotState(from));
    REQUIRE(slots.transition(0, SlotState(to), "test") == expected_edge(SlotState(from), SlotState(to)));
    const SlotState now = expected_edge(SlotState(from), SlotState(to)) ? SlotState(to) : SlotState(from);
    REQUIRE(slots[0].state == now);
}

TEST_CASE("per-state counts follow every transition", "[supervisor][slot]") {
    Slots slots(3, 0);
    REQUIRE(slots.count(SlotState::empty) == 3);
    REQUIRE(slots.transition(0, SlotState::starting, "spawn"));
    REQUIRE(slots.transition(1, SlotState::starting, "spawn"));
    REQUIRE(slots.transition(0, SlotState::ready, "ready"));
    REQUIRE(slots.count(SlotState::empty) == 1);
    REQUIRE(slots.count(SlotState::starting) == 1);
    REQUIRE(slots.count(SlotState::ready) == 1);

    SECTION("an illegal edge changes no count") {
        REQUIRE_FALSE(slots.transition(2, SlotState::ready, "bug"));
        REQUIRE(slots.count(SlotState::empty) == 1);
        REQUIRE(slots.count(SlotState::ready) == 1);
    }
    SECTION("a crash moves the slot out of ready") {
        REQUIRE(slots.transition(0, SlotState::exited, "SIGSEGV"));
        REQUIRE(slots.transition(0, SlotState::backoff, "young"));
        REQUIRE(slots.count(SlotState::ready) == 0);
        REQUIRE(slots.count(SlotState::backoff) == 1);
    }
}

TEST_CASE("every state has a name for the log", "[supervisor][slot]") {
    const int state = GENERATE(range(0, slot_state_count));
    REQUIRE(std::string(to_string(SlotState(state))) != "invalid");
}

TEST_CASE("slots know their role and count by role", "[supervisor][slot]") {
    Slots slots(4, 2);
    REQUIRE(slots.size() == 6);
    REQUIRE(slots[3].role == SlotRole::http);
    REQUIRE(slots[4].role == SlotRole::compute);
    REQUIRE(slots.transition(0, SlotState::starting, "spawn"));
    REQUIRE(slots.transition(5, SlotState::starting, "spawn"));
    REQUIRE(slots.count(SlotRole::http, SlotState::starting) == 1);
    REQUIRE(slots.count(SlotRole::compute, SlotState::starting) == 1);
    REQUIRE(slots.count(SlotRole::compute, SlotState::empty) == 1);
    REQUIRE(slots.count(SlotRole::http, SlotState::empty) == 3);
}

TEST_CASE("with several loops per process, only the first slot of each whole group is a process's",
          "[supervisor][slot]") {
    // --model=threads with 3 loops in 8 HTTP slots: processes in 0 and 3;
    // slot 6 cannot hold 3 loops, so it stays a loop slot nobody spawns into.
    Slots slots(8, 1, 3);
    for (unsigned i : {0u, 3u}) REQUIRE(slots[i].role == SlotRole::http);
    for (unsigned i : {1u, 2u, 4u, 5u, 6u, 7u}) REQUIRE(slots[i].role == SlotRole::loop);
    REQUIRE(slots[8].role == SlotRole::compute);
    REQUIRE(slots.count(SlotRole::http, SlotState::empty) == 2);
}
