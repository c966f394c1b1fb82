// Where clusterd::Counter::add() writes: the scoreboard slot of the process
// (or event loop) the calling thread works for. Each thread that may run
// application code binds it once: an HTTP worker's loop thread, each compute
// thread, a compute process. Unbound (no scoreboard), adds are dropped.
// Several threads of one worker share one slot, so adds are fetch_add, not
// the single-writer stores of the other counters.
#pragma once

#include <atomic>
#include <cstdint>

namespace clusterd::worker {

void bind_app_counters(std::atomic<std::uint64_t>* counters);

}  // namespace clusterd::worker
