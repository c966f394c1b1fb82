#pragma once

#include "common/config.hpp"

namespace clusterd::supervisor {

// `clusterd status [--pid P] [--json]`: attaches read-only to a running
// instance's segment and prints its scoreboard. Exit 0, or 1 with a reason.
[[nodiscard]] int run_status_command(const Config& config);

}  // namespace clusterd::supervisor
