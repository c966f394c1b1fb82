#pragma once

#include "common/config.hpp"

namespace clusterd::supervisor {

// Entry point of the supervisor role: logging, the socket, the segment, the loop.
[[nodiscard]] int run_supervisor(const Config& config);

}  // namespace clusterd::supervisor
