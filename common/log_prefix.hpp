// How a child names itself at the start of every log line it sends the
// supervisor: "[worker K pid]" or "[compute K pid]". Both sides use this: the
// child to write it, the supervisor to check it names the slot and the pid it
// spawned there (supervisor/worker_log_line.hpp) before believing it.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace clusterd {

inline constexpr std::string_view worker_log_noun = "worker";
inline constexpr std::string_view compute_log_noun = "compute";

[[nodiscard]] inline std::string child_log_prefix(std::string_view noun, unsigned slot, pid_t pid) {
    return "[" + std::string(noun) + " " + std::to_string(slot) + " " + std::to_string(pid) + "]";
}

}  // namespace clusterd
