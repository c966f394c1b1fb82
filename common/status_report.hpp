// The cluster's state for people and programs: JSON (GET /status, `clusterd
// status --json`) and a table (`clusterd status`), both from one snapshot.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/executor_counts.hpp"
#include "common/scoreboard_snapshot.hpp"

namespace clusterd {

// What the application calls its tasks, routes (patterns) and counters, by
// index: the scoreboard keeps numbers only. Empty: none are shown.
struct ApplicationNames {
    std::string name;
    std::vector<std::string> tasks;
    std::vector<std::string> routes;
    std::vector<std::string> counters;
};

// executors: the compute executors the configuration started (compute.executors).
[[nodiscard]] std::string status_json(const ClusterSnapshot& cluster, const ApplicationNames& app = {},
                                      const std::optional<ExecutorCounts>& executors = std::nullopt);
[[nodiscard]] std::string status_table(const ClusterSnapshot& cluster);

}  // namespace clusterd
