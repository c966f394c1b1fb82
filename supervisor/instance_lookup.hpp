// Which running clusterd a command line tool (`clusterd status|reload|upgrade`)
// talks to: the one given with --pid, or the only one running. Found through
// the shared-memory segments in /dev/shm, whose headers name live supervisors.
#pragma once

#include <sys/types.h>

#include <string>
#include <variant>

namespace clusterd::supervisor {

// The supervisor pid, or the sentence to print ("no running clusterd found in
// /dev/shm", "several instances run; choose one with --pid: ...").
[[nodiscard]] std::variant<pid_t, std::string> find_running_instance(pid_t requested);

}  // namespace clusterd::supervisor
