#include "supervisor/restart_policy.hpp"

#include <algorithm>

#include "common/exit_codes.hpp"

namespace clusterd::supervisor {

RestartPolicy restart_policy_of(const Config& config) {
    return {config.min_uptime,     config.backoff_initial, config.backoff_max,
            config.breaker_deaths, config.breaker_window,  config.breaker_cooldown};
}
namespace {

Millis backoff_base(unsigned consecutive_young, const RestartPolicy& policy) {
    // initial * 2^(n-1), saturating at max; the shift is capped so it cannot overflow.
    const unsigned doublings = std::min(consecutive_young - 1, 30u);
    const auto base = policy.backoff_initial.count() * (std::int64_t{1} << doublings);
    return Millis{std::min(base, policy.backoff_max.count())};
}

Millis jittered(Millis base, double jitter01) {
    const double spread = std::clamp(jitter01, 0.0, 1.0);
    return Millis{base.count() / 2 + static_cast<std::int64_t>(spread * static_cast<double>(base.count() / 2))};
}

}  // namespace

RestartDecision decide_restart(DeathHistory& history, const ExitInfo& exit, Millis uptime, SteadyTime now,
                               double jitter01, const RestartPolicy& policy, Readiness readiness) {
    if (exit.kind == ExitInfo::Kind::exited && exit.code == exit_code::config_error) {
        history = {};
        history.half_open = true;
        return {Verdict::trip_breaker, policy.breaker_cooldown,
                "exit code 2 means a configuration or boot error; retrying will not help"};
    }
    if (readiness == Readiness::had_been_ready) {
        // It booted: the slot is healthy, whatever ended this worker.
        history = {};
        if (uptime >= policy.min_uptime) return {Verdict::respawn_now, Millis{0}, "it had been ready and serving"};
        return {Verdict::back_off, jittered(policy.backoff_initial, jitter01),
                "it had been ready (less than " + format_duration(policy.min_uptime) +
                    "); a short pause, never the breaker"};
    }
    if (uptime >= policy.min_uptime && exit.kind != ExitInfo::Kind::spawn_failed) {
        history.consecutive_young = 0;
        history.half_open = false;
        return {Verdict::respawn_now, Millis{0}, "it ran for long enough, though never ready"};
    }
    if (history.half_open) {
        history = {};
        history.half_open = true;
        return {Verdict::trip_breaker, policy.breaker_cooldown, "the one trial after the cooldown died early too"};
    }

    history.consecutive_young += 1;
    history.young_deaths.push_back(now);
    while (!history.young_deaths.empty() && now - history.young_deaths.front() > policy.breaker_window) {
        history.young_deaths.pop_front();
    }
    if (history.young_deaths.size() >= policy.breaker_deaths) {
        auto deaths = history.young_deaths.size();
        history = {};
        history.half_open = true;
        return {Verdict::trip_breaker, policy.breaker_cooldown,
                std::to_string(deaths) + " early deaths within " + format_duration(policy.breaker_window)};
    }
    const Millis delay = jittered(backoff_base(history.consecutive_young, policy), jitter01);
    return {Verdict::back_off, delay,
            "early death #" + std::to_string(history.consecutive_young) + " (less than " +
                format_duration(policy.min_uptime) + " after start)"};
}

}  // namespace clusterd::supervisor
