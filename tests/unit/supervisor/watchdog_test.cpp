#include <catch2/catch.hpp>

#include "supervisor/watchdog.hpp"

using namespace std::chrono_literals;
using namespace clusterd::supervisor;
using Kind = HangVerdict::Kind;

namespace {

constexpr std::int64_t started = 100'000;

HeartbeatReading beat(std::int64_t heartbeat_ms, std::uint64_t writer = 3, std::uint64_t slot = 3) {
    return {heartbeat_ms, writer, slot, started};
}

}  // namespace

TEST_CASE("a worker whose heartbeat is fresh is alive", "[supervisor][watchdog]") {
    REQUIRE(judge_heartbeat(beat(started + 5000), started + 5500, 1000ms).kind == Kind::alive);
    REQUIRE(judge_heartbeat(beat(started + 5000), started + 6000, 1000ms).kind == Kind::alive);
}

TEST_CASE("a worker silent for longer than the timeout is hung", "[supervisor][watchdog]") {
    HangVerdict verdict = judge_heartbeat(beat(started + 5000), started + 7500, 1000ms);
    REQUIRE(verdict.kind == Kind::hung);
    REQUIRE(verdict.silent_seconds == Approx(2.5));
    REQUIRE_THAT(verdict.why, Catch::Contains("no heartbeat for 2.5 s"));
}

TEST_CASE("before its first heartbeat, silence counts from the worker's start", "[supervisor][watchdog]") {
    SECTION("a stale heartbeat of the previous generation does not count") {
        REQUIRE(judge_heartbeat(beat(started - 50'000, 2, 3), started + 500, 1000ms).kind == Kind::alive);
        REQUIRE(judge_heartbeat(beat(started - 50'000, 2, 3), started + 1500, 1000ms).kind == Kind::hung);
    }
    SECTION("no heartbeat at all") {
        REQUIRE(judge_heartbeat(beat(0), started + 999, 1000ms).kind == Kind::alive);
        REQUIRE(judge_heartbeat(beat(0), started + 1001, 1000ms).kind == Kind::hung);
    }
}

TEST_CASE("a heartbeat no honest worker could write is a verdict of its own", "[supervisor][watchdog]") {
    auto reading = GENERATE(beat(started + 1'000'000), beat(started - 1), beat(started + 10, 99, 3));
    CAPTURE(reading.heartbeat_ms, reading.writer_generation);
    REQUIRE(judge_heartbeat(reading, started + 2000, 1000ms).kind == Kind::invalid);
}

TEST_CASE("a zero timeout disables hang detection", "[supervisor][watchdog]") {
    REQUIRE(judge_heartbeat(beat(started), started + 3'600'000, 0ms).kind == Kind::alive);
}
