// The first steps of a process the supervisor started to serve on its
// listening socket (an HTTP worker, the admin worker), before it maps the
// segment: die with the supervisor, refuse to run when started by hand, and
// leave the supervisor's signals to the supervisor.
#pragma once

#include "common/config.hpp"

namespace clusterd::worker {

// False (and logged) when this process was not started by its supervisor or
// fd 3 is no socket: the caller exits with exit_code::config_error.
// role: "worker" or "admin", for the message.
[[nodiscard]] bool start_as_supervisors_child(const Config& config, const char* role);

}  // namespace clusterd::worker
