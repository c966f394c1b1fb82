// The compute job ring: a bounded multi-producer/multi-consumer set of job
// records in shared memory. HTTP workers (requesters) submit CPU jobs,
// compute processes (consumers) claim them, run them and write the result
// back, and the supervisor repairs the ring whenever it reaps either kind of
// process. docs/SHM.md ("Job ring") has the transition table and the long
// form of the arguments below.
//
//   auto ring = JobRing::create(memory, bytes, capacity, max_input, max_output);  // supervisor, before any child
//   auto ring = JobRing::attach(memory, bytes);            // each process, at its own address
//   worker:     ring->submit(slot, generation, job_id, params, deadline_ms, input)   nullopt: answer 503
//               ring->collect(slot, generation, [](std::uint64_t job_id, const JobResult&, std::string_view out) {...});
//   compute:    seen = ring->work_seq(); if (auto job = ring->claim(slot, now)) { run; finish(*job, r, out); }
//               else ring->wait_for_work(seen, heartbeat_ms);
//   supervisor: after reaping a process, before its slot gets a new one:
//               release_consumer(slot) (wake the requesters it returns: 502) or
//               release_requester(slot, generation).
//
// Why not a Vyukov MPMC ring
//   A Vyukov queue hands out positions with a fetch_add on a shared index and
//   publishes the cell later with a store to the cell's sequence. A producer
//   SIGKILLed between the two leaves a position that is taken and never
//   published: every consumer arriving there waits for it forever, and the
//   ring does not record who took it, so nobody can even repair it. Here no
//   position is handed out: a record belongs to whoever its control word
//   names, at every instant, and the supervisor (who knows who is dead) moves
//   the records of the dead on.
//
// The record: one control word, owner-named states
//   control = | sequence:48 | owner:12 | orphan:1 | state:3 |
//   free ─submit→ filling(requester) ─submit→ queued(requester) ─claim→ running(consumer)
//   running ─finish / release_consumer→ done(requester) ─collect→ free
//   filling ─release_requester→ free;  queued ─cancel / release_requester→ free
//   done ─release_requester→ free;  running ─release_requester→ running+orphan
//   running+orphan ─finish / release_consumer→ free
//   Every arrow is ONE compare_exchange on control naming the new owner, so a
//   process killed at any instruction is either before the CAS (the record is
//   still in the old owner's hands) or after it (in the new owner's). Whoever
//   it names is alive, or dead and about to be repaired by the supervisor:
//   filling/queued/done name the requester slot, running the consumer slot.
//   Nothing ever waits for another process: submit() skips records that are
//   not free, claim() those that are not queued. A death costs at most the
//   records the dead process owned, until the supervisor's repair.
//   The sequence grows on every return to free and states only move forward
//   within one sequence, so a control value never repeats: a CAS with a stale
//   expected value fails (no ABA), and a ticket {index, sequence} names one job.
//
// Who writes, who reads, and why the memory orders are enough
//   control     every transition is a compare_exchange_strong, acq_rel on
//               success, acquire on failure and in scans. After create() every
//               change is a read-modify-write, so each release CAS heads a
//               release sequence every later CAS continues: whoever acquires
//               a control value sees every write the record's earlier owners
//               made before their own CAS.
//   params      plain: written by the requester while filling, read by the
//   + input     consumer after its claim CAS. Nobody writes them while queued
//               or running (writing needs free → filling first).
//   result      plain: written by the consumer while running (or by the
//   + output    supervisor for a reaped consumer), read by the requester after
//               acquiring done. Nobody writes it while done.
//
// The payload area: bytes in and out, owned with their record
//   Record i has its own fixed stretch of the payload area (max_input bytes
//   of input, then max_output bytes of output), so the bytes of a job belong
//   to whoever owns its record, under exactly the rules of params and result
//   above. There is no allocator, no free list and no shared offset: nothing
//   a process killed mid-copy could leave half-updated for the others. A
//   record that returns to free takes its stretch with it; a reaped consumer's
//   half-written output is cut to length 0 by release_consumer(). Lengths are
//   read from a private copy of params/result and checked against the sizes
//   the view copied at attach, so a scribbled length is refused (invalid),
//   never followed past the stretch. docs/SHM.md has the long form.
//   ticket, requester, deadline_ms
//               atomics: written (release) by the requester while filling,
//               read (acquire) by scans before they know whether the record
//               is theirs to touch. A decision made on them is acted on only
//               through a CAS (or a re-read of control) with the control value
//               loaded before them: if a load returned a later job's value,
//               that job's free → filling CAS happened before the load, so
//               control no longer holds the expected value and the CAS fails
//               (seqlock.hpp's argument, with control as the sequence).
//   started_ms  atomic, relaxed: 0 from filling, stamped by the consumer
//               after its claim, read by the supervisor's deadline watchdog.
//   work_seq    the futex word, on its own cache line: bumped (release) after
//               every queueing, so a consumer that read it before a scan that
//               found nothing either sees the bump (FUTEX_WAIT returns at
//               once) or is asleep before the FUTEX_WAKE that follows it.
//   next_ticket relaxed fetch_add: it orders jobs, it publishes nothing.
//   free_hint   relaxed: where submit() starts looking; any value works.
//
// The ring never trusts its contents (a crashing worker can scribble on it)
//   The view copies the capacity at attach (checked against the mapping) and
//   never reads it from the segment again, so no index leaves the records.
//   A state that is none of the five is skipped by every call (and freed by
//   reclaim_corrupt()); owners are 12-bit fields, never used as indices here
//   (the supervisor checks a requester slot it is handed before using it).
//   Every call visits each record a bounded number of times: no loop waits
//   for a value another process may never write.
//
// Cost
//   Capacity is tens to a few thousand records and a job is milliseconds of
//   CPU, so every call simply scans the records (one cache line each for
//   the scan). O(capacity) per call buys a structure with no shared index that
//   a death could leave inconsistent.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/compute_job.hpp"

namespace clusterd {

inline constexpr std::uint32_t job_ring_max_slots = 4096;      // owner is a 12-bit field
inline constexpr std::uint32_t job_ring_max_capacity = 65536;  // keeps the scans short
inline constexpr std::uint64_t job_ring_magic = 0x474e4952424f4a43;  // "CJOBRING"
inline constexpr std::uint32_t job_ring_layout_version = 2;
// The largest --task-max-input / --task-max-output: keeps capacity × stride
// far from overflowing and a segment within what tmpfs will map.
inline constexpr std::uint32_t job_payload_max = 64u * 1024 * 1024;

// The states a record moves through; any other value in the state bits is garbage.
enum class JobState : std::uint8_t { free = 0, filling = 1, queued = 2, running = 3, done = 4 };

// The control word's fields, unpacked. `state` is nullopt for garbage.
struct JobControl {
    std::optional<JobState> state;
    bool orphaned = false;
    std::uint32_t owner = 0;
    std::uint64_t sequence = 0;
};

namespace job_control {
inline constexpr unsigned owner_shift = 4;
inline constexpr unsigned sequence_shift = 16;
inline constexpr std::uint64_t state_mask = 0x7;
inline constexpr std::uint64_t orphan_bit = 0x8;
inline constexpr std::uint64_t owner_mask = job_ring_max_slots - 1;
inline constexpr std::uint64_t sequence_mask = (std::uint64_t{1} << (64 - sequence_shift)) - 1;
}  // namespace job_control

[[nodiscard]] constexpr std::uint64_t pack_control(JobState state, bool orphaned, std::uint32_t owner,
                                                   std::uint64_t sequence) noexcept {
    using namespace job_control;
    return static_cast<std::uint64_t>(state) | (orphaned ? orphan_bit : 0) | ((owner & owner_mask) << owner_shift) |
           ((sequence & sequence_mask) << sequence_shift);
}

[[nodiscard]] constexpr JobControl unpack_control(std::uint64_t word) noexcept {
    using namespace job_control;
    JobControl control;
    const std::uint64_t state = word & state_mask;
    if (state <= static_cast<std::uint64_t>(JobState::done)) control.state = static_cast<JobState>(state);
    control.orphaned = (word & orphan_bit) != 0;
    control.owner = static_cast<std::uint32_t>((word >> owner_shift) & owner_mask);
    control.sequence = (word >> sequence_shift) & sequence_mask;
    return control;
}

// Who asked for a job: the HTTP worker slot, that worker's generation (a
// slot's successor must not collect its predecessor's results) and its own id.
struct JobRequester {
    std::uint32_t slot = 0;
    std::uint64_t generation = 0;
    std::uint64_t job_id = 0;
};

// Names one submitted job: the record and the sequence it had then.
struct JobTicket {
    std::uint32_t index = 0;
    std::uint64_t sequence = 0;
};

// What a consumer got from claim(): a private copy, valid after the record moves on.
struct ClaimedJob {
    JobTicket ticket;
    std::uint32_t consumer_slot = 0;
    JobRequester requester;
    std::int64_t deadline_ms = 0;
    JobParams params;
    std::string input;  // copied out of the payload area: the ring may change under it, this cannot
};

// A running job as the supervisor's watchdog sees it.
struct RunningJob {
    JobTicket ticket;
    std::uint32_t consumer_slot = 0;
    bool orphaned = false;       // its requester is gone; the result will be thrown away
    std::int64_t started_ms = 0;  // 0: claimed, not stamped yet (or the consumer died in between)
    std::int64_t deadline_ms = 0;
    std::uint64_t order = 0;  // its FIFO ticket number
    JobRequester requester;
};

// Records by state, counted by one scan (not a snapshot: records move meanwhile).
struct JobRingLoad {
    std::uint32_t free = 0;
    std::uint32_t filling = 0;
    std::uint32_t queued = 0;
    std::uint32_t running = 0;
    std::uint32_t done = 0;
    std::uint32_t corrupt = 0;  // state bits that are none of the five
};

// How wait_for_work() returned. Callers rescan in every case; the value is
// for tests and metrics.
enum class WorkWait { woken, changed, timed_out, interrupted, failed };

struct alignas(64) JobRecord {
    std::atomic<std::uint64_t> control{0};
    std::atomic<std::uint64_t> ticket{0};  // FIFO order among queued records
    std::atomic<std::uint32_t> requester_slot{0};
    std::atomic<std::uint64_t> requester_generation{0};
    std::atomic<std::uint64_t> job_id{0};
    std::atomic<std::int64_t> deadline_ms{0};
    std::atomic<std::int64_t> started_ms{0};
    JobParams params;
    JobResult result;
};

struct alignas(64) JobRingHeader {
    // Written once by create() before any other process maps the segment.
    std::uint64_t magic = 0;
    std::uint32_t layout_version = 0;
    std::uint32_t capacity = 0;
    std::uint32_t record_size = 0;
    std::uint32_t max_input = 0;   // bytes of input per record
    std::uint32_t max_output = 0;  // bytes of output per record
    // The futex word: bumped by every submit, waited on by idle consumers.
    alignas(64) std::atomic<std::uint32_t> work_seq{0};
    alignas(64) std::atomic<std::uint64_t> next_ticket{0};
    std::atomic<std::uint32_t> free_hint{0};
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared memory needs address-free atomics");
static_assert(std::atomic<std::int64_t>::is_always_lock_free, "shared memory needs address-free atomics");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "shared memory needs address-free atomics");
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t), "the futex word is a plain 32-bit int");
static_assert(sizeof(JobRingHeader) % alignof(JobRecord) == 0, "records follow the header, aligned");

// Each record's stretch of the payload area: its input, then its output,
// rounded to a cache line so two records never share one.
[[nodiscard]] constexpr std::size_t job_payload_stride(std::uint32_t max_input, std::uint32_t max_output) noexcept {
    return (std::size_t{max_input} + max_output + 63) / 64 * 64;
}

[[nodiscard]] constexpr std::size_t job_ring_bytes(std::uint32_t capacity, std::uint32_t max_input = 0,
                                                   std::uint32_t max_output = 0) noexcept {
    return sizeof(JobRingHeader) + std::size_t{capacity} * sizeof(JobRecord) +
           std::size_t{capacity} * job_payload_stride(max_input, max_output);
}

// A view of a ring in this process's address space. Holds a pointer and the
// capacity validated at attach, both in private memory; copying it is cheap.
// Every member is safe to call from any number of processes and threads at
// once, except where its comment names a single caller.
class JobRing {
public:
    // Initialises a ring in place over `bytes` bytes of 64-byte aligned memory,
    // with room for max_input bytes in and max_output bytes out per job.
    // nullopt when the memory is too small or misaligned, the capacity is 0 or
    // above job_ring_max_capacity, or a payload size is above job_payload_max.
    // Only before any other process uses it.
    [[nodiscard]] static std::optional<JobRing> create(void* memory, std::size_t bytes, std::uint32_t capacity,
                                                       std::uint32_t max_input = 0,
                                                       std::uint32_t max_output = 0) noexcept;

    // A view of a ring create() initialised, checking magic, layout version,
    // record size and that the capacity and payload area fit in `bytes`;
    // nullopt otherwise.
    [[nodiscard]] static std::optional<JobRing> attach(void* memory, std::size_t bytes) noexcept;

    // A view with the shape the caller knows from private memory (the
    // segment's layout), reading nothing from the ring's header, which any
    // process mapping the ring can scribble: a scribbled header changes no
    // size, no address, and makes nobody refuse the ring. nullopt when that
    // shape does not fit in `bytes` or the memory is misaligned.
    [[nodiscard]] static std::optional<JobRing> view(void* memory, std::size_t bytes, std::uint32_t capacity,
                                                     std::uint32_t max_input, std::uint32_t max_output) noexcept;

    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::uint32_t max_input() const noexcept { return max_input_; }
    [[nodiscard]] std::uint32_t max_output() const noexcept { return max_output_; }

    // ---- requester (HTTP worker) ----

    // Queues a job with its input (params.input_length is set from it) and
    // wakes one consumer. nullopt: no free record (answer 503), an input
    // above max_input() (the caller answers 413 before asking), or a slot >=
    // job_ring_max_slots. With capacity C and nothing consumed, exactly C
    // submits succeed. deadline_ms is CLOCK_MONOTONIC.
    [[nodiscard]] std::optional<JobTicket> submit(std::uint32_t requester_slot, std::uint64_t requester_generation,
                                                  std::uint64_t job_id, const JobParams& params,
                                                  std::int64_t deadline_ms, std::string_view input = {}) noexcept;

    // Withdraws a job still queued. False once it was claimed (its result, or
    // a crashed one, still arrives through collect()) or is gone.
    [[nodiscard]] bool cancel(JobTicket ticket) noexcept;

    // Hands every finished job of (slot, generation) to
    // on_result(job_id, const JobResult&[, std::string_view output]) and frees
    // its record; returns how many. Each result is handed out once: its
    // record is freed before the call (the output is a private copy). One
    // thread per (slot, generation) at a time.
    template <typename F>
    std::size_t collect(std::uint32_t slot, std::uint64_t generation, F&& on_result) {
        std::size_t collected = 0;
        std::string output;
        for (std::uint32_t index = 0; index < capacity_; ++index) {
            JobResult result;
            if (const auto job_id = take_result(index, slot, generation, result, output)) {
                if constexpr (std::is_invocable_v<F&, std::uint64_t, const JobResult&, std::string_view>) {
                    on_result(*job_id, static_cast<const JobResult&>(result), std::string_view(output));
                } else {
                    on_result(*job_id, static_cast<const JobResult&>(result));
                }
                ++collected;
            }
        }
        return collected;
    }

    // ---- consumer (compute process) ----

    // Claims the queued job with the lowest ticket for `consumer_slot`,
    // stamps it started at now_ms and copies its input out. nullopt when
    // nothing is queued (or the slot is >= job_ring_max_slots). A claimed job
    // whose input length is beyond max_input() (a scribbled record) comes
    // back with params.input_length cut to 0 and params.task set past any
    // table (max_tasks), so running it answers invalid.
    [[nodiscard]] std::optional<ClaimedJob> claim(std::uint32_t consumer_slot, std::int64_t now_ms);

    // Stores the result and output of a claimed job and hands it to its
    // requester: the requester to wake, or nullopt when there is nobody to
    // wake (its requester died: the record is freed instead; or the record is
    // no longer this claim's). An output above max_output() is not stored:
    // the result becomes output_too_large, with no output.
    [[nodiscard]] std::optional<JobRequester> finish(const ClaimedJob& job, const JobResult& result,
                                                     std::string_view output = {}) noexcept;

    // ---- waiting (futex on work_seq; shared, not FUTEX_PRIVATE_FLAG) ----

    [[nodiscard]] std::uint32_t work_seq() const noexcept;
    // Bumps work_seq and wakes one waiter. submit() calls it.
    void notify_work() noexcept;
    // Sleeps until work_seq differs from `seen`, a notify, a signal or
    // timeout_ms (< 0: no timeout). Read `seen` before the claim() that found
    // nothing, so a job queued in between is never slept through.
    WorkWait wait_for_work(std::uint32_t seen, int timeout_ms) noexcept;

    // ---- supervisor repair: only after reaping the slot's process, before
    // the slot gets a new one, from one thread ----

    // Every job the consumer of `consumer_slot` was running becomes done with
    // JobStatus::crashed (or free, if orphaned). Returns their requesters, to
    // wake so they answer 502. Validate each slot before using it.
    [[nodiscard]] std::vector<JobRequester> release_consumer(std::uint32_t consumer_slot);

    // Frees every record of the requester (slot, generation): half-filled,
    // queued or done; a running one is marked orphaned and freed by its
    // consumer's finish(). Returns how many records it changed.
    std::size_t release_requester(std::uint32_t slot, std::uint64_t generation) noexcept;

    // Frees records whose state bits are garbage or whose owner is not below
    // slot_limit (no process can ever release those). Returns how many.
    std::size_t reclaim_corrupt(std::uint32_t slot_limit) noexcept;

    // ---- inspection ----

    [[nodiscard]] JobRingLoad load() const noexcept;

    // Calls f(const RunningJob&) for each running job whose fields were read
    // consistently (a job that moved on meanwhile is skipped): the supervisor
    // kills a compute process that is past a job's deadline.
    template <typename F>
    void for_each_running(F&& f) const {
        for (std::uint32_t index = 0; index < capacity_; ++index) {
            if (const auto job = running_at(index)) f(static_cast<const RunningJob&>(*job));
        }
    }

private:
    JobRing(JobRingHeader* header, JobRecord* records, std::byte* payload, std::uint32_t capacity,
            std::uint32_t max_input, std::uint32_t max_output) noexcept
        : header_(header),
          records_(records),
          payload_(payload),
          capacity_(capacity),
          max_input_(max_input),
          max_output_(max_output) {}

    [[nodiscard]] std::byte* input_of(std::uint32_t index) const noexcept {
        return payload_ + std::size_t{index} * job_payload_stride(max_input_, max_output_);
    }
    [[nodiscard]] std::byte* output_of(std::uint32_t index) const noexcept { return input_of(index) + max_input_; }

    // If record `index` holds a done job of (slot, generation): copies its
    // result and output out, frees the record and returns its job id.
    std::optional<std::uint64_t> take_result(std::uint32_t index, std::uint32_t slot, std::uint64_t generation,
                                             JobResult& out, std::string& output);
    [[nodiscard]] std::optional<RunningJob> running_at(std::uint32_t index) const noexcept;
    // The queued record with the lowest ticket in one scan, with its control value.
    [[nodiscard]] std::optional<std::uint32_t> oldest_queued(std::uint64_t& control) const noexcept;

    JobRingHeader* header_;
    JobRecord* records_;
    std::byte* payload_;
    std::uint32_t capacity_;
    std::uint32_t max_input_;
    std::uint32_t max_output_;
};

}  // namespace clusterd
