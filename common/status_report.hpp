// The cluster's state for people and programs: JSON (GET /status, `clusterd
// status --json`) and a table (`clusterd status`), both from one snapshot.
#pragma once

#include <string>
#include <vector>

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

[[nodiscard]] std::string status_json(const ClusterSnapshot& cluster, const ApplicationNames& app = {});
[[nodiscard]] std::string status_table(const ClusterSnapshot& cluster);

}  // namespace clusterd
