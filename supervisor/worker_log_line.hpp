// What the supervisor writes for one record from a worker's log ring.
//
// A worker's record is untrusted text: a compromised or buggy worker could
// put a newline in it to start a line that looks like the supervisor's, paint
// the operator's terminal with escape sequences, or claim to be another
// worker. So the supervisor, not the worker, decides what a line says about
// its origin:
//   - every control character (C0, DEL, and C1 in its UTF-8 form, which some
//     terminals honour as CSI) is written escaped, as \n, \r, \t or \xHH, so a
//     record is exactly one line and carries no terminal control;
//   - the worker's own "[worker K pid]" / "[compute K pid]" prefix is kept
//     only when K and pid are the ring's slot and the pid the supervisor
//     spawned there; any other record is written behind the supervisor's
//     attribution "[slot K pid P, unattributed]".
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace clusterd::supervisor {

[[nodiscard]] std::string escape_control_characters(std::string_view text);

// noun: "worker" or "compute", what the supervisor started in the slot.
[[nodiscard]] std::string attributed_log_line(std::string_view record, std::string_view noun, unsigned slot, pid_t pid);

}  // namespace clusterd::supervisor
