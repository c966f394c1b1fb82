// A unit of CPU work as every executor sees it: which of the application's
// tasks to run on which bytes (JobParams + the input), and how it ended
// (JobResult + the output). The fixed parts are plain and pointer-free,
// because with --compute=processes they travel through the shared segment's
// job ring; the bytes travel through the ring's payload area beside them
// (job_ring.hpp), bounded by --task-max-input and --task-max-output.
#pragma once

#include <cstdint>

namespace clusterd {

// Fault injection riding on a job (only accepted with --enable-fault-injection):
// the executor running it crashes or spins, so every failure path of the
// three executors can be hit on purpose.
enum class JobFault : std::uint32_t { none = 0, crash = 1, hang = 2 };

// The most tasks an application may declare: their counters live in every
// scoreboard slot (shm_layout.hpp), so the number is fixed.
inline constexpr std::uint32_t max_tasks = 32;

struct JobParams {
    std::uint32_t task = 0;          // index in the application's task table; a consumer rejects one past its end
    std::uint32_t fault = 0;         // a JobFault
    std::uint32_t input_length = 0;  // bytes of input in the payload area (checked against the area's size)
    std::uint32_t reserved = 0;
};

enum class JobStatus : std::uint32_t {
    ok = 1,                // the output holds the task's answer
    invalid = 2,           // refused before running: no such task, a length beyond the area (garbage in a ring)
    crashed = 3,           // the executor died running it (compute process killed, ...): 502
    failed = 4,            // the task threw: the output holds the exception's message (500)
    bad_input = 5,         // the task refused its input (clusterd::BadInput): the output holds why (400)
    output_too_large = 6,  // the answer did not fit the task's output limit: dropped (502)
};

struct JobResult {
    std::uint32_t status = 0;         // a JobStatus
    std::uint32_t output_length = 0;  // bytes of output in the payload area (checked against the area's size)
    std::uint64_t compute_us = 0;     // time spent computing, measured by whoever ran it
};

}  // namespace clusterd
