// GET /metrics: the whole cluster in the Prometheus text format (0.0.4),
// rendered by whichever worker the scrape reaches, from the scoreboard.
#pragma once

#include <string>

#include "common/scoreboard_snapshot.hpp"

namespace clusterd::worker {

[[nodiscard]] std::string prometheus_text(const ClusterSnapshot& cluster);

}  // namespace clusterd::worker
