// The layout of the shared-memory segment. Increment shm_layout_version
// whenever anything in this file changes shape: attach() refuses a segment
// of another version instead of misreading it (Envoy's HOT_RESTART_VERSION).
//
// The segment is two memfds (no name anywhere; docs/SHM.md):
//
//   the header          SegmentHeader, written by the supervisor alone. Sealed
//                       against any writable mapping but the supervisor's own
//                       (F_SEAL_FUTURE_WRITE) and handed to children read-only:
//                       nobody else can change a byte of it.
//   the body            everything a worker writes, and nothing the supervisor
//                       takes an address or a count from:
//     offset slots_offset ScoreboardSlot[slot_count], each 64-byte aligned
//     offset rings_offset WorkerRings[slot_count]: each worker's log ring
//     offset jobs_offset  the compute job ring (job_ring.hpp), job_capacity
//                         records and their payload area (task_max_input +
//                         task_max_output bytes each); empty unless
//                         --compute=processes
//
// The supervisor computes the layout (SegmentLayout, below) once at creation
// and keeps it in private memory; the header's copy is for children.
//
// Slots [0, http_slots) belong to HTTP workers (2 per configured worker, so a
// replacement can start before its predecessor leaves); slots
// [http_slots, slot_count) to compute processes.
//
// Rules (../shared/DESIGN.md): no pointers, only indices; every atomic is
// always lock-free; no mutex; one writer per field; the supervisor validates
// everything it reads from the body, because a crashing (or compromised)
// worker can write any byte of it. The per-field writer is named next to each
// field.
//
// Memory order: counters and gauges are independent numbers read for display,
// so relaxed is enough (a reader may see requests_2xx one increment behind
// bytes_out, never a torn value). The heartbeat is relaxed too: the
// supervisor compares it with its own clock and acts only after a whole
// --hang-timeout of silence, orders of magnitude above any store latency.
// The multi-word "current request" is published through a seqlock
// (seqlock.hpp), whose argument is written there.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common/compute_job.hpp"
#include "common/restart_stats.hpp"
#include "common/seqlock.hpp"
#include "common/spsc_ring.hpp"

namespace clusterd {

inline constexpr std::uint64_t shm_magic = 0x4b4f4f4c43445343;  // "CSDCLOOK"
inline constexpr std::uint32_t shm_layout_version = 7;

// What a worker is doing right now; all zero when idle.
struct CurrentRequest {
    std::int64_t started_ms = 0;  // monotonic_ms() when the request was dispatched; 0 = idle
    char method[16] = {};
    char target[104] = {};  // truncated, NUL-terminated
};

// How the previous worker of a slot ended, for /status: "killed by SIGSEGV after 2.1 s".
struct ExitNote {
    char text[256] = {};  // room for a program's last lines of output (exec mode)
};

// What a program run with `clusterd -- COMMAND` last said in STATUS= (sd_notify).
struct ProgramStatus {
    char text[128] = {};
};

// One log line travelling from a worker to the supervisor, which writes it
// (so lines from many processes never interleave). Longer lines are cut.
struct LogRecord {
    std::uint8_t level = 0;    // spdlog::level::level_enum; the reader checks the range
    std::uint8_t reserved = 0;
    std::uint16_t length = 0;  // bytes of text in use; the reader checks it against the buffer
    char text[252] = {};
};
static_assert(sizeof(LogRecord) == 256);

inline constexpr std::size_t log_ring_capacity = 256;
using LogRing = SpscRing<LogRecord, log_ring_capacity>;

// A command from the supervisor to one worker. The channel first, a signal as
// the fallback (nginx's ngx_signal_worker_processes does the same).
// unready: answer /readyz 503 from now on, and keep serving (--drain-delay).
enum class Command : std::uint32_t { drain = 1, reopen_logs = 2, unready = 3 };
struct CommandRecord {
    std::uint32_t command = 0;  // a Command; the worker ignores anything else
    std::uint32_t reserved = 0;
    std::uint64_t issued_ms = 0;
};

inline constexpr std::size_t command_ring_capacity = 16;
using CommandRing = SpscRing<CommandRecord, command_ring_capacity>;

// The rings of one slot.
struct alignas(64) WorkerRings {
    LogRing log;           // producer: the slot's worker; consumer: the supervisor
    CommandRing commands;  // producer: the supervisor; consumer: the slot's worker
};

// Status classes 1xx..5xx.
inline constexpr std::size_t status_class_count = 5;

// Tasks as one HTTP worker saw them, by task (the application's task
// table, in declaration order) and outcome. Written by that worker only
// (its dispatcher), relaxed like every counter here.
enum class JobOutcome : std::uint32_t {
    completed,  // 200
    crashed,    // 502: the executor died running it
    timed_out,  // 504: not finished by its deadline
    rejected,   // 503: the queue was full (or 413: the input was over the task's limit)
    shed,       // 503: still queued when the worker began draining
    cancelled,  // the client left before the job started
    failed,     // 500 / 400 / 502: the task threw, refused its input, or its output did not fit
};
inline constexpr std::size_t job_outcome_count = 7;
[[nodiscard]] constexpr const char* to_string(JobOutcome outcome) {
    switch (outcome) {
        case JobOutcome::completed: return "completed";
        case JobOutcome::crashed: return "crashed";
        case JobOutcome::timed_out: return "timed_out";
        case JobOutcome::rejected: return "rejected";
        case JobOutcome::shed: return "shed";
        case JobOutcome::cancelled: return "cancelled";
        case JobOutcome::failed: return "failed";
    }
    return "invalid";
}
// Upper bounds (µs) of every latency histogram here (task run time, task
// queue wait, route latency); the last bucket is +Inf.
inline constexpr std::uint64_t compute_bucket_bounds_us[] = {100,     1'000,   5'000,     10'000,   50'000,    100'000,
                                                             500'000, 1'000'000, 5'000'000, 10'000'000};
inline constexpr std::size_t compute_bucket_count = std::size(compute_bucket_bounds_us) + 1;

// A latency histogram: per bucket (not cumulative) and the sum.
struct LatencyCounters {
    std::atomic<std::uint64_t> buckets[compute_bucket_count]{};
    std::atomic<std::uint64_t> sum_us{0};
};

struct TaskCounters {
    std::atomic<std::uint64_t> jobs[job_outcome_count]{};
    LatencyCounters run;   // completed jobs: time in the task function
    LatencyCounters wait;  // completed jobs: submit to answer, minus the run time
};

struct ComputeCounters {
    TaskCounters tasks[max_tasks];
    std::atomic<std::uint64_t> queued{0};   // gauge: jobs waiting for an executor (inline, threads)
    std::atomic<std::uint64_t> running{0};  // gauge: jobs running (inline, threads)
};

// Requests by route (the application's route table, in declaration order,
// by pattern, never by raw path: cardinality stays bounded) and status
// class, with a latency histogram (request parsed to response queued).
inline constexpr std::size_t max_routes = 64;
struct RouteCounters {
    std::atomic<std::uint64_t> requests[status_class_count]{};
    LatencyCounters latency;
};

// An application's own counters (App::counter), summed over the cluster.
inline constexpr std::size_t max_app_counters = 32;

// Why a worker asks to be replaced (ScoreboardSlot::recycle_requested).
enum class RecycleReason : std::uint32_t { none = 0, stuck_compute_thread = 1, max_requests = 2 };

struct alignas(64) ScoreboardSlot {
    // --- written by the supervisor ---
    std::atomic<std::int32_t> pid{0};          // 0: no process
    std::atomic<std::uint32_t> state{0};       // supervisor::SlotState
    std::atomic<std::uint64_t> generation{0};
    std::atomic<std::int64_t> started_ms{0};   // monotonic_ms() at spawn
    std::atomic<std::uint64_t> restarts{0};     // spawns after the first
    Seqlock<ExitNote> last_exit;
    // Its process as /proc tells the supervisor (about once a second; 0 until
    // read): a worker cannot misreport them, and a program run with '--' has
    // no other way into /status and /metrics.
    std::atomic<std::uint64_t> rss_bytes{0};  // resident set
    std::atomic<std::uint64_t> cpu_ms{0};     // user + system CPU time
    Seqlock<ProgramStatus> program_status;    // exec mode: its last STATUS=; empty otherwise

    // --- written by the worker of this generation (own cache line) ---
    alignas(64) std::atomic<std::int64_t> heartbeat_ms{0};  // monotonic_ms(), refreshed while the loop runs
    std::atomic<std::uint64_t> worker_generation{0};        // the generation that wrote these fields
    std::atomic<std::uint64_t> requests[status_class_count]{};
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> connections_open{0};
    std::atomic<std::uint64_t> parse_errors{0};
    std::atomic<std::uint64_t> log_drops{0};  // log records that found the ring full (written to stderr instead)
    // A RecycleReason: the worker wants a graceful replacement (the supervisor
    // starts one, then drains this worker). Read after a wake-up on the log eventfd.
    std::atomic<std::uint32_t> recycle_requested{0};
    Seqlock<CurrentRequest> current;
    ComputeCounters compute;
    RouteCounters routes[max_routes];
    std::atomic<std::uint64_t> app_counters[max_app_counters]{};
};

// Restarts by cause, hang kills, restart latency: written by the supervisor.
struct SupervisorStats {
    std::atomic<std::uint64_t> deaths_by_signal{0};
    std::atomic<std::uint64_t> deaths_by_exit{0};
    std::atomic<std::uint64_t> hang_kills{0};
    std::atomic<std::uint64_t> spawn_failures{0};
    std::atomic<std::uint64_t> breaker_trips{0};
    std::atomic<std::uint64_t> compute_process_deaths{0};  // compute processes that died other than by draining
    std::atomic<std::uint64_t> compute_jobs_lost{0};       // jobs they held, answered 502
    std::atomic<std::uint64_t> compute_stuck_kills{0};     // compute processes killed for running past a deadline
    std::atomic<std::uint64_t> recycles{0};                // graceful replacements asked for by workers
    std::atomic<std::uint64_t> connections_lost{0};  // connections open on HTTP workers when they died
    std::atomic<std::uint64_t> restart_latency_count{0};
    std::atomic<std::uint64_t> restart_latency_us_sum{0};
    std::atomic<std::uint64_t> restart_latency_us_max{0};
    std::atomic<std::uint32_t> workers_ready{0};
    std::atomic<std::uint32_t> workers_failed{0};
    std::atomic<std::uint64_t> restarts[restart_stat_count]{};  // by RestartStat (restart_stats.hpp)
    std::atomic<std::uint64_t> reloads_completed{0};  // rolling reloads, by how they ended
    std::atomic<std::uint64_t> reloads_failed{0};     // a new worker died before it was ready
    std::atomic<std::uint64_t> reloads_refused{0};    // the new configuration was invalid or cannot apply
};

// In the header memfd; written by the supervisor only (children map it
// read-only, and the seal stops anyone else from mapping it writable).
struct alignas(64) SegmentHeader {
    std::uint64_t magic = 0;
    std::uint32_t layout_version = 0;
    std::uint32_t slot_count = 0;
    std::uint64_t body_size = 0;     // bytes of the body memfd
    std::uint64_t slots_offset = 0;  // in the body, like the two below
    std::uint64_t rings_offset = 0;
    std::int32_t supervisor_pid = 0;
    std::uint32_t workers = 0;     // configured HTTP workers
    std::uint32_t http_slots = 0;  // slots [0, http_slots) are HTTP workers', the rest compute processes'
    std::uint32_t compute_mode = 0;  // a ComputeMode (config.hpp)
    std::uint32_t job_capacity = 0;  // records in the job ring; 0 unless --compute=processes
    std::uint32_t task_max_input = 0;   // the job ring's payload area: bytes in per job
    std::uint32_t task_max_output = 0;  // and bytes out per job
    std::uint64_t jobs_offset = 0;
    std::int64_t started_ms = 0;
    SupervisorStats stats;
};

// Where everything is in the body, and how much of it there is. The
// supervisor's copy is computed by layout_for() at creation and lives in its
// private memory; it is the only source of addresses and counts it uses.
struct SegmentLayout {
    std::uint32_t slot_count = 0;
    std::uint32_t http_slots = 0;
    std::uint32_t job_capacity = 0;
    std::uint32_t task_max_input = 0;
    std::uint32_t task_max_output = 0;
    std::uint64_t slots_offset = 0;
    std::uint64_t rings_offset = 0;
    std::uint64_t jobs_offset = 0;
    std::uint64_t body_size = 0;
};

inline constexpr std::uint32_t segment_max_slots = 65536;

[[nodiscard]] constexpr std::uint64_t segment_slots_offset() { return 0; }
[[nodiscard]] constexpr std::uint64_t segment_rings_offset(std::uint32_t slot_count) {
    return segment_slots_offset() + std::uint64_t{slot_count} * sizeof(ScoreboardSlot);
}
[[nodiscard]] constexpr std::uint64_t segment_jobs_offset(std::uint32_t slot_count) {
    return segment_rings_offset(slot_count) + std::uint64_t{slot_count} * sizeof(WorkerRings);
}
// The body's size for that shape.
[[nodiscard]] std::uint64_t segment_size(std::uint32_t slot_count, std::uint32_t job_capacity,
                                         std::uint32_t task_max_input = 0, std::uint32_t task_max_output = 0);
[[nodiscard]] SegmentLayout layout_for(std::uint32_t slot_count, std::uint32_t http_slots, std::uint32_t job_capacity,
                                       std::uint32_t task_max_input, std::uint32_t task_max_output);

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);
static_assert(std::atomic<std::int32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace clusterd
