// A worker's or compute process's one word to the supervisor at start:
// "ready", one byte on the inherited socketpair end, which is then closed.
#pragma once

namespace clusterd::worker {

// The fd the supervisor gave for it (supervisor/worker_process.hpp).
inline constexpr int ready_report_fd = 4;

// False (and logged) when the supervisor cannot be told: it is gone.
[[nodiscard]] bool report_ready_to_supervisor();

}  // namespace clusterd::worker
