// A worker's or compute process's one word to the supervisor at start:
// "ready", one byte on the inherited socketpair end, which is then closed.
#pragma once

#include "common/child_contract.hpp"

namespace clusterd::worker {

inline constexpr int ready_report_fd = child::ready_fd;

// False (and logged) when the supervisor cannot be told: it is gone.
[[nodiscard]] bool report_ready_to_supervisor();

}  // namespace clusterd::worker
