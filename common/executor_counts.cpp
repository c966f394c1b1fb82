#include "common/executor_counts.hpp"

#include <algorithm>

namespace clusterd {

unsigned default_compute_threads(unsigned cpus, unsigned event_loops) {
    return std::max(1u, cpus / std::max(1u, event_loops));
}

ExecutorCounts executor_counts(const Config& config) {
    ExecutorCounts counts;
    counts.cpus = config.cpus;
    counts.policy = config.compute_policy;
    counts.nice = config.compute_nice;
    switch (config.compute) {
        case ComputeMode::inline_loop:
            counts.per_worker = 1;
            counts.total = config.workers;
            break;
        case ComputeMode::threads:
            counts.per_worker = config.compute_threads;
            counts.total = config.compute_threads * config.workers;
            break;
        case ComputeMode::processes:
            counts.per_worker = config.compute_processes;
            counts.total = config.compute_processes;
            break;
    }
    return counts;
}

}  // namespace clusterd
