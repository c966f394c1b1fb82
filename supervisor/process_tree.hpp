// Whether a process is another one or one of its descendants, from /proc.
//
// The supervisor uses it to attribute an sd_notify datagram: the kernel
// gives the sender's pid (SCM_CREDENTIALS), and a message counts as a
// worker's when it comes from the worker or from something it started (a
// `systemd-notify` its shell script runs). A sender that has already exited
// and been reaped cannot be placed in the tree and is not believed.
#pragma once

#include <sys/types.h>

#include <optional>

namespace clusterd::supervisor {

// The parent pid in /proc/<pid>/stat; nothing if the process is gone.
[[nodiscard]] std::optional<pid_t> parent_of(pid_t pid);

// pid == ancestor, or ancestor is on pid's chain of parents (at most 64 steps).
[[nodiscard]] bool is_same_or_descendant(pid_t pid, pid_t ancestor);

}  // namespace clusterd::supervisor
