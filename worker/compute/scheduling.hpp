// How a compute thread or process gives way to the event loops: it sets
// its own Linux scheduling policy (--compute-policy) and nice value
// (--compute-nice) before it takes work. Linux keeps both per thread
// (sched(7)), so a pool thread changes only itself, and a compute process
// that sets them before it starts any thread passes them on to all of its
// threads. Lowering needs no privilege; nothing ever raises them again.
//
// Why SCHED_BATCH is the default (docs/BENCHMARKS.md, "Probes while every
// executor is saturated"): a batch task never preempts a waking event loop,
// and still gets its full share of a CPU nobody else wants; SCHED_IDLE
// starved behind any busy neighbour, a nice value made the loops wait longer.
//
// (Threads are the unit: sched_setscheduler(0, ...) and setpriority() with
// a thread id act on the calling thread only.)
#pragma once

#include <optional>
#include <string>

#include "common/config.hpp"

namespace clusterd::worker::compute {

struct Scheduling {
    ComputePolicy policy = ComputePolicy::batch;
    int nice = 0;
};

[[nodiscard]] inline Scheduling scheduling_of(const Config& config) {
    return Scheduling{config.compute_policy, config.compute_nice};
}

// Applies `scheduling` to the calling thread; the failed call and its
// error when the kernel refused (the thread then runs as it was).
[[nodiscard]] std::optional<std::string> apply_to_this_thread(const Scheduling& scheduling);

}  // namespace clusterd::worker::compute
