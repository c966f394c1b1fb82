// `clusterd reload` and `clusterd upgrade`: the same as sending SIGHUP or
// SIGUSR2 to the running supervisor, for operators who would rather not look
// up its pid. The supervisor's log says what came of it.
#pragma once

#include "common/config.hpp"

namespace clusterd::supervisor {

[[nodiscard]] int run_control_command(const Config& config);

}  // namespace clusterd::supervisor
