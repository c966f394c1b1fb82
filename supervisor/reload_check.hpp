// Whether a running cluster can take a new configuration on reload: a pure
// function of the configuration it runs, the one it was asked to take and
// the slots its segment has. What it refuses needs a restart (or a binary
// upgrade); everything else is applied, by replacing the workers (their
// options) or by re-arming what the supervisor derived from the old value
// (Supervisor::apply_reloaded). docs/OPERATING.md's reload table lists every
// option's answer, and tests/unit/supervisor/reload_check_test.cpp walks it.
#pragma once

#include <string>

#include "common/config.hpp"

namespace clusterd::supervisor {

// Why `next` cannot replace `now`; empty if it can.
[[nodiscard]] std::string reload_refusal(const Config& now, const Config& next, unsigned http_slots);

}  // namespace clusterd::supervisor
