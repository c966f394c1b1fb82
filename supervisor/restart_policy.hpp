// When may a slot whose worker just died start again? A pure function of the
// slot's death history, the death, the clock and a jitter draw, so unit tests
// walk every path without a process or a real clock.
//
// The one question that tells a crash loop from bad luck is whether the
// worker had reported ready:
//
//  - exit code 2 (configuration or boot error) trips the breaker at once:
//    retrying a worker that cannot boot only fills the log;
//  - a worker that had been ready booted fine: whatever killed it (an OOM
//    kill, an operator's kill -9, a chaos test, one bad request) is no
//    evidence of a loop. It is replaced at once, or after a short bounded
//    backoff (initial delay, with jitter) if it died younger than
//    min_uptime, and it never counts towards the breaker, so a storm of
//    kills cannot take the whole service down for a cooldown;
//  - a worker that died before it was ready is evidence of a crash loop:
//    one that lived at least min_uptime is replaced at once, a younger one
//    is backed off exponentially (initial, 2x, 4x ... up to max), with
//    jitter so many slots do not restart in lock-step, and breaker_deaths
//    such deaths within breaker_window trip the breaker: the slot is marked
//    failed and rests for the cooldown before one more try (half-open): if
//    that worker dies before ready too, the breaker trips again at once; if
//    it gets ready, the slot is healthy again.
#pragma once

#include <chrono>
#include <deque>
#include <string>

#include "common/clock.hpp"
#include "common/config.hpp"
#include "common/units.hpp"
#include "supervisor/exit_info.hpp"

namespace clusterd::supervisor {

struct RestartPolicy {
    Millis min_uptime{1000};
    Millis backoff_initial{100};
    Millis backoff_max{30'000};
    unsigned breaker_deaths = 5;
    Millis breaker_window{30'000};
    Millis breaker_cooldown{60'000};
};

// The policy the options ask for.
[[nodiscard]] RestartPolicy restart_policy_of(const Config& config);

// One slot's memory of its recent young deaths.
struct DeathHistory {
    std::deque<SteadyTime> young_deaths;  // within the breaker window, oldest first
    unsigned consecutive_young = 0;       // since the last worker that ran well
    bool half_open = false;               // the breaker tripped; the next worker is its one trial
};

enum class Verdict { respawn_now, back_off, trip_breaker };

// Whether the worker that died had reported ready.
enum class Readiness { never_ready, had_been_ready };

struct RestartDecision {
    Verdict verdict = Verdict::respawn_now;
    Millis delay{0};  // back_off: the delay; trip_breaker: the cooldown
    std::string why;  // for the log line
};

// Records the death in history and decides. jitter01 is a draw from [0, 1):
// the delay is spread over [base/2, base), "equal jitter".
[[nodiscard]] RestartDecision decide_restart(DeathHistory& history, const ExitInfo& exit, Millis uptime,
                                             SteadyTime now, double jitter01, const RestartPolicy& policy,
                                             Readiness readiness = Readiness::never_ready);

}  // namespace clusterd::supervisor
