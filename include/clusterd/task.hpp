// Tasks: named CPU functions from bytes to bytes, run by the executor the
// daemon was started with (--compute=inline|threads|processes), under one
// policy: a bounded queue (full: 503), a deadline (504), input and output
// limits (413 / 502), a crash of the executor (502 for its jobs only).
//
// Threading: a task function may run on several threads or processes at
// once (one per compute thread or compute process); it must be safe to call
// concurrently and must not touch the event loop. Under --compute=processes
// it runs in another process: state it needs is built by an
// App::on_compute_start hook in that process, never captured from the HTTP
// worker.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace clusterd {

// Bytes in, bytes out. An exception escaping it fails the job: BadInput
// answers 400 with its message, anything else 500 (logged with the task's name).
using TaskFunction = std::function<std::string(std::string_view input)>;

// Thrown by a task that refuses its input (malformed JSON, say): the
// client gets 400 with what().
class BadInput : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct TaskOptions {
    std::size_t max_input = 0;   // bytes; 0: --task-max-input. Capped by it.
    std::size_t max_output = 0;  // bytes; 0: --task-max-output. Capped by it.
    std::chrono::milliseconds deadline{0};  // 0: --compute-timeout
};

enum class TaskOutcome {
    ok,                // output holds the answer
    bad_input,         // BadInput, or fault flags refused: 400 (error says why)
    input_too_large,   // over the task's input limit: 413
    failed,            // the task threw: 500
    output_too_large,  // its answer was over the output limit: 502
    crashed,           // its executor died (SIGSEGV, abort, killed): 502
    timed_out,         // not finished by its deadline: 504
    rejected,          // the queue was full: 503 with Retry-After
    shutting_down,     // the worker drains: 503 with Retry-After
};

struct TaskResult {
    TaskOutcome outcome = TaskOutcome::ok;
    std::string output;  // ok only
    std::string error;   // a sentence for the client, for every other outcome
};

}  // namespace clusterd
