// The cluster's state for people and programs: JSON (GET /status, `clusterd
// status --json`) and a table (`clusterd status`), both from one snapshot.
#pragma once

#include <string>

#include "common/scoreboard_snapshot.hpp"

namespace clusterd {

[[nodiscard]] std::string status_json(const ClusterSnapshot& cluster);
[[nodiscard]] std::string status_table(const ClusterSnapshot& cluster);

}  // namespace clusterd
