// Where a compute job runs: on the loop (inline), on a thread of this worker
// (threads) or in a compute process fed through the shared job ring
// (processes). A Backend only moves jobs and results; the policy that is the
// same for all three (the 503 when full, the 504 at the deadline, cancelling
// on disconnect, answering queued jobs at shutdown) lives once, in the
// Dispatcher (dispatcher.hpp), which owns one Backend.
//
// Threading: every method is called on the worker's loop thread, and the
// completion sink is invoked on that thread too, never from inside enqueue().
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/compute_job.hpp"

namespace clusterd::worker::compute {

using JobId = std::uint64_t;  // assigned by the Dispatcher, unique within a worker

// A job as the executors move it: which task, and its input bytes.
struct Job {
    JobParams params;
    std::string input;
};

// How it ended: the fixed result and the output bytes.
struct JobOutput {
    JobResult result;
    std::string output;
};

struct Completion {
    JobId id = 0;
    JobOutput output;
};
using CompletionSink = std::function<void(Completion&)>;

// What an executor calls to compute a job (TaskRunner in production, which
// runs the application's task); a seam so tests can run jobs that block
// until they are released. Called on the executor's thread or process.
using JobRunner = std::function<JobOutput(const Job&)>;

struct BackendLoad {
    std::uint64_t queued = 0;   // accepted, not started
    std::uint64_t running = 0;  // started, not finished
};

// A job that has run past its deadline and is still running: its client got
// a 504 already; the Backend says what it does about the executor.
struct StuckJob {
    JobId id = 0;
    std::int64_t running_for_ms = 0;
};

class Backend {
public:
    virtual ~Backend() = default;

    // Accepts a job or refuses it at once (false: no room; the Dispatcher
    // answers 503). An accepted job is reported exactly once to the sink,
    // unless cancel() returned true for it.
    [[nodiscard]] virtual bool enqueue(JobId id, Job job, std::int64_t deadline_ms) = 0;

    // True: the job had not started and is gone for good. False: it is
    // running or finished; its completion still arrives and is ignored.
    virtual bool cancel(JobId id) = 0;

    [[nodiscard]] virtual BackendLoad load() const = 0;

    // Jobs still running although their deadline (given to enqueue) passed
    // more than grace_ms ago.
    [[nodiscard]] virtual std::vector<StuckJob> stuck_jobs(std::int64_t now_ms, std::int64_t grace_ms) const = 0;

    // Shutdown: stop taking jobs; the queued ones are dropped and returned
    // (the Dispatcher answers them 503); running ones finish and complete.
    [[nodiscard]] virtual std::vector<JobId> stop() = 0;

    // Releases threads and loop handles; `closed` runs on the loop once they
    // are gone (after which the Backend may be destroyed). It never blocks on
    // a running job: the worker closes its executor only on its way out, and
    // a thread still computing then is abandoned (and logged) with the process.
    virtual void close(std::function<void()> closed) = 0;
};

}  // namespace clusterd::worker::compute
