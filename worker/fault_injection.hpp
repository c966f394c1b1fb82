// /debug/crash?mode=...: real faults on purpose, so every failure path of the
// supervisor can be hit from a test. Served only with --enable-fault-injection.
#pragma once

#include <optional>
#include <string_view>

#include "worker/http_response.hpp"

namespace clusterd::worker {

// segv, abort and exit end the process; hang never returns (it spins, as a
// stuck worker would); slow returns a response to be delivered after ms=N
// (default 1000) without blocking the loop. An unknown mode gets a 400.
[[nodiscard]] Response inject_fault(std::string_view query);

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
