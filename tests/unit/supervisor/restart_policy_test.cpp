#include <catch2/catch.hpp>
#include <csignal>

#include "supervisor/restart_policy.hpp"

using namespace std::chrono_literals;
using clusterd::Millis;
using clusterd::SteadyTime;
using namespace clusterd::supervisor;

namespace {

RestartPolicy test_policy() {
    RestartPolicy policy;
    policy.min_uptime = 1000ms;
    policy.backoff_initial = 100ms;
    policy.backoff_max = 1600ms;
    policy.breaker_deaths = 5;
    policy.breaker_window = 30s;
    policy.breaker_cooldown = 60s;
    return policy;
}

const SteadyTime t0{};

}  // namespace

TEST_CASE("a worker that ran long enough is respawned at once, whatever killed it", "[supervisor][restart_policy]") {
    auto exit = GENERATE(ExitInfo::signaled(SIGKILL), ExitInfo::signaled(SIGSEGV), ExitInfo::exited(1),
                         ExitInfo::exited(0));
    DeathHistory history;
    auto decision = decide_restart(history, exit, 2h, t0 + 2h, 0.5, test_policy());
    REQUIRE(decision.verdict == Verdict::respawn_now);
    REQUIRE(decision.delay == 0ms);
}

TEST_CASE("a worker that dies young waits longer each time, up to the maximum", "[supervisor][restart_policy]") {
    RestartPolicy policy = test_policy();
    policy.breaker_deaths = 100;  // keep the breaker out of this test
    DeathHistory history;
    // With jitter at its top the delay approaches the base: 100, 200, 400 ... capped at 1600.
    const Millis expected_base[] = {100ms, 200ms, 400ms, 800ms, 1600ms, 1600ms, 1600ms};
    SteadyTime now = t0;
    for (Millis base : expected_base) {
        now += 10s;
        auto decision = decide_restart(history, ExitInfo::signaled(SIGSEGV), 50ms, now, 0.0, policy);
        CAPTURE(base.count());
        REQUIRE(decision.verdict == Verdict::back_off);
        REQUIRE(decision.delay == base / 2);  // jitter 0 → the bottom of [base/2, base)
    }
}

TEST_CASE("jitter spreads the backoff over the upper half of the base delay", "[supervisor][restart_policy]") {
    auto jitter = GENERATE(0.0, 0.25, 0.5, 0.999);
    DeathHistory history;
    auto decision = decide_restart(history, ExitInfo::exited(1), 10ms, t0, jitter, test_policy());
    REQUIRE(decision.verdict == Verdict::back_off);
    REQUIRE(decision.delay >= 50ms);
    REQUIRE(decision.delay < 100ms);
}

TEST_CASE("a healthy run resets the backoff", "[supervisor][restart_policy]") {
    DeathHistory history;
    SteadyTime now = t0;
    for (int i = 0; i < 3; ++i) {
        now += 1s;
        (void)decide_restart(history, ExitInfo::exited(1), 10ms, now, 0.0, test_policy());
    }
    REQUIRE(history.consecutive_young == 3);
    now += 1h;
    REQUIRE(decide_restart(history, ExitInfo::exited(1), 1h, now, 0.0, test_policy()).verdict ==
            Verdict::respawn_now);
    auto next = decide_restart(history, ExitInfo::exited(1), 10ms, now + 1s, 0.0, test_policy());
    REQUIRE(next.verdict == Verdict::back_off);
    REQUIRE(next.delay == 50ms);
}

TEST_CASE("K young deaths within the window trip the breaker", "[supervisor][restart_policy]") {
    DeathHistory history;
    SteadyTime now = t0;
    for (int i = 0; i < 4; ++i) {
        now += 1s;
        REQUIRE(decide_restart(history, ExitInfo::signaled(SIGABRT), 10ms, now, 0.5, test_policy()).verdict ==
                Verdict::back_off);
    }
    now += 1s;
    auto decision = decide_restart(history, ExitInfo::signaled(SIGABRT), 10ms, now, 0.5, test_policy());
    REQUIRE(decision.verdict == Verdict::trip_breaker);
    REQUIRE(decision.delay == 60s);
    SECTION("after the cooldown one trial runs; if it dies young too, the breaker trips again at once") {
        now += 61s;
        auto again = decide_restart(history, ExitInfo::signaled(SIGABRT), 10ms, now, 0.5, test_policy());
        REQUIRE(again.verdict == Verdict::trip_breaker);
    }
    SECTION("after the cooldown, a trial that runs well closes the breaker") {
        now += 61s;
        REQUIRE(decide_restart(history, ExitInfo::signaled(SIGKILL), 1h, now, 0.5, test_policy()).verdict ==
                Verdict::respawn_now);
        auto next = decide_restart(history, ExitInfo::signaled(SIGABRT), 10ms, now + 1h, 0.5, test_policy());
        REQUIRE(next.verdict == Verdict::back_off);
    }
}

TEST_CASE("young deaths spread wider than the window never trip the breaker", "[supervisor][restart_policy]") {
    DeathHistory history;
    SteadyTime now = t0;
    for (int i = 0; i < 20; ++i) {
        now += 10s;  // five deaths span 40 s > the 30 s window
        auto decision = decide_restart(history, ExitInfo::exited(1), 10ms, now, 0.5, test_policy());
        REQUIRE(decision.verdict == Verdict::back_off);
    }
}

TEST_CASE("exit code 2 means a boot error: the breaker trips at once", "[supervisor][restart_policy]") {
    DeathHistory history;
    auto uptime = GENERATE(Millis{5}, Millis{3'600'000});
    auto decision = decide_restart(history, ExitInfo::exited(2), uptime, t0, 0.5, test_policy());
    REQUIRE(decision.verdict == Verdict::trip_breaker);
}

TEST_CASE("a worker that could not be spawned is backed off, never retried at once", "[supervisor][restart_policy]") {
    DeathHistory history;
    auto decision = decide_restart(history, ExitInfo::spawn_failed(-24), 0ms, t0, 0.5, test_policy());
    REQUIRE(decision.verdict == Verdict::back_off);
}

TEST_CASE("a worker that had been ready is replaced at once, or after a short pause if it died young",
          "[supervisor][restart_policy]") {
    const auto exit = GENERATE(ExitInfo::signaled(SIGKILL), ExitInfo::signaled(SIGSEGV),
                               ExitInfo::signaled(SIGABRT), ExitInfo::exited(1));
    DeathHistory history;
    SECTION("it ran for --min-uptime") {
        auto decision = decide_restart(history, exit, 5s, t0 + 5s, 0.5, test_policy(), Readiness::had_been_ready);
        CHECK(decision.verdict == Verdict::respawn_now);
    }
    SECTION("it died young: the pause is the initial backoff at most, however often") {
        SteadyTime now = t0;
        for (int i = 0; i < 50; ++i) {
            now += 100ms;
            auto decision = decide_restart(history, exit, 50ms, now, 0.999, test_policy(), Readiness::had_been_ready);
            REQUIRE(decision.verdict == Verdict::back_off);
            REQUIRE(decision.delay < test_policy().backoff_initial);
        }
    }
}

TEST_CASE("a storm of kills of ready workers never trips the breaker", "[supervisor][restart_policy]") {
    // 10 kills a second for 10 s, all young, all after ready: no crash loop.
    DeathHistory history;
    SteadyTime now = t0;
    for (int i = 0; i < 100; ++i) {
        now += 100ms;
        const double jitter = (i % 10) / 10.0;
        auto decision = decide_restart(history, ExitInfo::signaled(i % 2 ? SIGKILL : SIGSEGV), 80ms, now, jitter,
                                       test_policy(), Readiness::had_been_ready);
        REQUIRE(decision.verdict != Verdict::trip_breaker);
    }
}

TEST_CASE("deaths before ready still trip the breaker, even between deaths after ready",
          "[supervisor][restart_policy]") {
    RestartPolicy policy = test_policy();
    DeathHistory history;
    SteadyTime now = t0;
    unsigned before_ready = 0;
    Verdict last = Verdict::respawn_now;
    // Four early deaths before ready, a ready one in between resets the count.
    for (int i = 0; i < 4; ++i) {
        now += 1s;
        last = decide_restart(history, ExitInfo::signaled(SIGSEGV), 10ms, now, 0.0, policy).verdict;
        ++before_ready;
    }
    CHECK(last == Verdict::back_off);
    now += 1s;
    CHECK(decide_restart(history, ExitInfo::signaled(SIGKILL), 10ms, now, 0.0, policy, Readiness::had_been_ready)
              .verdict == Verdict::back_off);
    for (unsigned i = 0; i + 1 < policy.breaker_deaths; ++i) {
        now += 1s;
        CHECK(decide_restart(history, ExitInfo::signaled(SIGSEGV), 10ms, now, 0.0, policy).verdict ==
              Verdict::back_off);
    }
    now += 1s;
    CHECK(decide_restart(history, ExitInfo::signaled(SIGSEGV), 10ms, now, 0.0, policy).verdict ==
          Verdict::trip_breaker);
}

TEST_CASE("exit code 2 trips the breaker even for a worker that had been ready", "[supervisor][restart_policy]") {
    DeathHistory history;
    auto decision = decide_restart(history, ExitInfo::exited(2), 5s, t0 + 5s, 0.5, test_policy(),
                                   Readiness::had_been_ready);
    CHECK(decision.verdict == Verdict::trip_breaker);
}

TEST_CASE("the breaker's one trial that gets ready closes the breaker, even if it dies young later",
          "[supervisor][restart_policy]") {
    RestartPolicy policy = test_policy();
    DeathHistory history;
    SteadyTime now = t0;
    for (unsigned i = 0; i < policy.breaker_deaths; ++i) {
        now += 1s;
        (void)decide_restart(history, ExitInfo::signaled(SIGSEGV), 10ms, now, 0.0, policy);
    }
    REQUIRE(history.half_open);
    now += policy.breaker_cooldown;
    auto decision = decide_restart(history, ExitInfo::signaled(SIGKILL), 10ms, now, 0.0, policy,
                                   Readiness::had_been_ready);
    CHECK(decision.verdict == Verdict::back_off);
    CHECK_FALSE(history.half_open);
}
