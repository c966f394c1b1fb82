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

}  // namespace clusterd::worker
