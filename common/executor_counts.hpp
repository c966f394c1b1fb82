// How many compute executors the cluster runs, and the default of
// --compute-threads: one formula for the option parser, /status and
// `clusterd status`, so what is reported is what was started.
//
// The default keeps the machine from being oversubscribed: all pools
// together run about one compute thread per CPU (cpus / event loops per
// loop, at least one), where every loop once got a pool of CPU-count threads
// (N loops x N threads on N CPUs), so a saturated pool left each loop a
// fraction of a core and health probes waited behind it.
#pragma once

#include "common/config.hpp"

namespace clusterd {

// --compute-threads when not given: cpus / event_loops, at least 1.
[[nodiscard]] unsigned default_compute_threads(unsigned cpus, unsigned event_loops);

struct ExecutorCounts {
    unsigned cpus = 0;        // what the defaults were computed from (0: not known here)
    unsigned per_worker = 0;  // executors one event loop can use: its pool, or all compute processes
    unsigned total = 0;       // executors in the cluster: threads in every pool, or compute processes
    ComputePolicy policy = ComputePolicy::batch;
    int nice = 0;
};

// inline: one per event loop (the loop itself); threads: --compute-threads
// per event loop; processes: the --compute-processes shared by every loop.
[[nodiscard]] ExecutorCounts executor_counts(const Config& config);

}  // namespace clusterd
