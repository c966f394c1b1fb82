// GET /metrics: the whole cluster in the Prometheus text format (0.0.4),
// rendered by whichever worker the scrape reaches, from the scoreboard. The
// scoreboard holds numbers by index; the application's names come from its
// model, the same in every process of the binary.
#pragma once

#include <string>

#include "common/scoreboard_snapshot.hpp"
#include "common/status_report.hpp"
#include "worker/app_model.hpp"

namespace clusterd::worker {

// app may be null: no application families then.
[[nodiscard]] std::string prometheus_text(const ClusterSnapshot& cluster, const detail::AppModel* app);
[[nodiscard]] ApplicationNames application_names(const detail::AppModel* app);

}  // namespace clusterd::worker
