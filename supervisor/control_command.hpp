// `clusterd reload|upgrade|stop|status|scale N`: a client of the running
// instance's control socket (control_socket.hpp). It sends the command and
// prints the answer; with the default (waiting), the answer is the outcome:
// exit 0 after "reload complete", 1 with the reason when the reload was
// refused or failed, so systemd's ExecReload reports what really happened.
#pragma once

#include "common/config.hpp"

namespace clusterd::supervisor {

[[nodiscard]] int run_control_command(const Config& config);

}  // namespace clusterd::supervisor
