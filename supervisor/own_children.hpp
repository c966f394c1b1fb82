// The children somebody in the supervisor waits for: libuv for what
// uv_spawn started (worker_process.cpp, upgrade.cpp, fork_server.cpp), a
// WorkerProcess for a worker the fork server started (by its pidfd). The
// orphan reaper (orphan_reaper.hpp) reaps only children that are none of
// these: a second waitpid on one of ours would steal its status.
//
// The supervisor's loop thread only, like everything that spawns.
#pragma once

#include <sys/types.h>

namespace clusterd::supervisor {

void own_child(pid_t pid);
void disown_child(pid_t pid);
[[nodiscard]] bool is_own_child(pid_t pid);

}  // namespace clusterd::supervisor
