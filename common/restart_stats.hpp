// Why workers died and how their slots came back: one table feeding the
// supervisor's counters (SupervisorStats::restarts, shm_layout.hpp), the
// snapshot, /status ("restarts") and /metrics (one family per metric, one
// sample per label). Add a row here and every reader has it.
//
//   X(enumerator, metric family, label, help of the family)
#pragma once

#include <cstddef>

#define CLUSTERD_RESTART_STATS(X)                                                                                   \
    X(died_before_ready, "clusterd_worker_deaths_by_readiness_total", "readiness=\"before_ready\"",                  \
      "Worker deaths by whether the worker had reported ready: before ready is a crash loop's evidence (backoff, " \
      "breaker), after ready is not (it is replaced at once)")                                                       \
    X(died_after_ready, "clusterd_worker_deaths_by_readiness_total", "readiness=\"after_ready\"", "")                \
    X(respawned_at_once, "clusterd_restarts_total", "how=\"at_once\"",                                         \
      "Slots refilled after a death, by how: at once, after a backoff, or after the breaker's cooldown")             \
    X(respawned_after_backoff, "clusterd_restarts_total", "how=\"after_backoff\"", "")                        \
    X(respawned_after_cooldown, "clusterd_restarts_total", "how=\"after_cooldown\"", "")

namespace clusterd {

enum class RestartStat : std::size_t {
#define CLUSTERD_ENUMERATOR(name, family, label, help) name,
    CLUSTERD_RESTART_STATS(CLUSTERD_ENUMERATOR)
#undef CLUSTERD_ENUMERATOR
};

struct RestartStatInfo {
    const char* name;    // the /status key
    const char* family;  // the /metrics family
    const char* label;   // its sample's label
    const char* help;    // the family's help; empty on a family's later rows
};

inline constexpr RestartStatInfo restart_stats[] = {
#define CLUSTERD_INFO(name, family, label, help) {#name, family, label, help},
    CLUSTERD_RESTART_STATS(CLUSTERD_INFO)
#undef CLUSTERD_INFO
};
inline constexpr std::size_t restart_stat_count = sizeof restart_stats / sizeof restart_stats[0];

}  // namespace clusterd
