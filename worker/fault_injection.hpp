// /debug/crash?mode=...: real faults on purpose, so every failure path of the
// supervisor can be hit from a test. Served only with --enable-fault-injection.
#pragma once

#include <optional>
#include <string_view>

#include "common/shm_layout.hpp"
#include "worker/http_response.hpp"

namespace clusterd::worker {

// What scribble mode writes garbage over: the worker's own shared memory.
struct FaultTarget {
    ScoreboardSlot* own_slot = nullptr;
    LogRing* own_log_ring = nullptr;
};

// Modes:
//   segv, abort, exit   end the process (a real SIGSEGV, abort(), _exit(1))
//   hang                spins forever, as a stuck worker would
//   stop                raise(SIGSTOP): alive, silent, not running
//   slow                a response delivered after ms=N (default 1000), without blocking the loop
//   leak                keeps mib=N (default 64) more MiB of touched memory, for --max-worker-memory
//   fd-leak             keeps count=N (default 100) more open descriptors
//   scribble            writes garbage over its own scoreboard slot and log ring, then spins:
//                       the supervisor must neither crash nor believe it
//   forge-log           logs a line holding a newline, a fake supervisor line and terminal
//                       escapes: the supervisor must write it as one escaped line
// An unknown mode gets a 400.
[[nodiscard]] Response inject_fault(std::string_view query, const FaultTarget& target);

// --crash-at-start: the worker dies while booting, as one with a broken
// dependency would.
[[noreturn]] void crash_at_start();

// The two faults a compute job can carry (JobFault), shared with the
// executors so every path dies or hangs the same way.
// A real invalid write, so the kernel delivers SIGSEGV as it would for a bug.
[[noreturn]] void segfault();
// Burns its core forever without blocking, as a stuck computation would.
[[noreturn]] void spin_forever();

}  // namespace clusterd::worker
