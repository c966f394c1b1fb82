// The job ring's operations. The arguments (who owns a record when, why each
// memory order is enough, why a death is always repairable) are in
// job_ring.hpp and docs/SHM.md; comments here only add what is local.
#include "common/job_ring.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <new>

namespace clusterd {

namespace {

// A CAS on control only fails because the record moved on, and a record of
// one job moves forward at most four times (queued → running → orphaned →
// done → free); more failures than this mean something keeps scribbling on
// it, and the call moves on rather than spin.
constexpr int record_attempts = 16;

// claim() rescans after losing a record to another consumer (or a cancel);
// each lost race means someone else made progress.
constexpr int claim_scans = 64;

// The one way a record changes hands. acq_rel on success: the release
// publishes what this owner wrote, the acquire sees what earlier owners did.
// On failure `expected` receives the current value.
bool transition(JobRecord& record, std::uint64_t& expected, std::uint64_t desired) noexcept {
    return record.control.compare_exchange_strong(expected, desired, std::memory_order_acq_rel,
                                                  std::memory_order_acquire);
}

// Back to free, under the next sequence: every ticket of the old job goes stale.
constexpr std::uint64_t free_word(std::uint64_t sequence) noexcept {
    return pack_control(JobState::free, false, 0, sequence + 1);
}

JobResult crashed_result() noexcept {
    JobResult result;
    result.status = static_cast<std::uint32_t>(JobStatus::crashed);
    return result;
}

// The requester's identity as the record holds it. Acquire, so a value of a
// later job implies control has moved on (see "ticket, requester" in the header).
JobRequester requester_of(const JobRecord& record) noexcept {
    return {record.requester_slot.load(std::memory_order_acquire),
            record.requester_generation.load(std::memory_order_acquire),
            record.job_id.load(std::memory_order_acquire)};
}

// Written only while the record is filling, i.e. owned by this requester.
void fill(JobRecord& record, std::uint64_t ticket, const JobRequester& requester, const JobParams& params,
          std::int64_t deadline_ms) noexcept {
    record.requester_slot.store(requester.slot, std::memory_order_release);
    record.requester_generation.store(requester.generation, std::memory_order_release);
    record.job_id.store(requester.job_id, std::memory_order_release);
    record.deadline_ms.store(deadline_ms, std::memory_order_release);
    record.started_ms.store(0, std::memory_order_release);
    record.params = params;
    record.ticket.store(ticket, std::memory_order_release);
}

// Whom a finished (or crashed) job goes to: done for its requester, or
// straight back to free when the requester slot is impossible (nobody
// could ever collect it).
std::uint64_t delivered_word(std::uint32_t requester_slot, std::uint64_t sequence) noexcept {
    if (requester_slot >= job_ring_max_slots) return free_word(sequence);
    return pack_control(JobState::done, false, requester_slot, sequence);
}

// What release_requester() turns `control` into, if the record is (slot, generation)'s.
std::optional<std::uint64_t> requester_repair(const JobRecord& record, std::uint64_t control, std::uint32_t slot,
                                              std::uint64_t generation) noexcept {
    const JobControl seen = unpack_control(control);
    if (!seen.state) return std::nullopt;
    switch (*seen.state) {
        case JobState::free:
            return std::nullopt;
        case JobState::filling:
            // The generation may not be written yet; the slot's process is
            // dead and not replaced, so every filling record it names is its.
            if (seen.owner == slot) return free_word(seen.sequence);
            return std::nullopt;
        case JobState::queued:
        case JobState::done:
            if (seen.owner == slot && record.requester_generation.load(std::memory_order_acquire) == generation) {
                return free_word(seen.sequence);
            }
            return std::nullopt;
        case JobState::running: {
            const JobRequester requester = requester_of(record);
            if (!seen.orphaned && requester.slot == slot && requester.generation == generation) {
                return control | job_control::orphan_bit;
            }
            return std::nullopt;
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<JobRing> JobRing::create(void* memory, std::size_t bytes, std::uint32_t capacity,
                                       std::uint32_t max_input, std::uint32_t max_output) noexcept {
    if (memory == nullptr || reinterpret_cast<std::uintptr_t>(memory) % alignof(JobRecord) != 0) return std::nullopt;
    if (capacity == 0 || capacity > job_ring_max_capacity || max_input > job_payload_max ||
        max_output > job_payload_max || bytes < job_ring_bytes(capacity, max_input, max_output)) {
        return std::nullopt;
    }
    auto* header = new (memory) JobRingHeader();
    header->magic = job_ring_magic;
    header->layout_version = job_ring_layout_version;
    header->capacity = capacity;
    header->record_size = sizeof(JobRecord);
    header->max_input = max_input;
    header->max_output = max_output;
    auto* base = static_cast<std::byte*>(memory) + sizeof(JobRingHeader);
    JobRecord* records = new (base) JobRecord();
    for (std::uint32_t i = 1; i < capacity; ++i) new (base + std::size_t{i} * sizeof(JobRecord)) JobRecord();
    // The payload area is plain bytes: the mapping's zero fill is its start.
    return JobRing(header, records, base + std::size_t{capacity} * sizeof(JobRecord), capacity, max_input, max_output);
}

std::optional<JobRing> JobRing::attach(void* memory, std::size_t bytes) noexcept {
    if (memory == nullptr || reinterpret_cast<std::uintptr_t>(memory) % alignof(JobRecord) != 0) return std::nullopt;
    if (bytes < sizeof(JobRingHeader)) return std::nullopt;
    auto* header = std::launder(static_cast<JobRingHeader*>(memory));
    // Copied once: the view never reads the sizes from shared memory again.
    const std::uint32_t capacity = header->capacity;
    const std::uint32_t max_input = header->max_input;
    const std::uint32_t max_output = header->max_output;
    if (header->magic != job_ring_magic || header->layout_version != job_ring_layout_version ||
        header->record_size != sizeof(JobRecord) || capacity == 0 || capacity > job_ring_max_capacity ||
        max_input > job_payload_max || max_output > job_payload_max ||
        bytes < job_ring_bytes(capacity, max_input, max_output)) {
        return std::nullopt;
    }
    auto* base = static_cast<std::byte*>(memory) + sizeof(JobRingHeader);
    auto* records = std::launder(reinterpret_cast<JobRecord*>(base));
    return JobRing(header, records, base + std::size_t{capacity} * sizeof(JobRecord), capacity, max_input, max_output);
}

std::optional<JobRing> JobRing::view(void* memory, std::size_t bytes, std::uint32_t capacity,
                                     std::uint32_t max_input, std::uint32_t max_output) noexcept {
    if (memory == nullptr || reinterpret_cast<std::uintptr_t>(memory) % alignof(JobRecord) != 0) return std::nullopt;
    if (capacity == 0 || capacity > job_ring_max_capacity || max_input > job_payload_max ||
        max_output > job_payload_max || bytes < job_ring_bytes(capacity, max_input, max_output)) {
        return std::nullopt;
    }
    auto* header = std::launder(static_cast<JobRingHeader*>(memory));
    auto* base = static_cast<std::byte*>(memory) + sizeof(JobRingHeader);
    auto* records = std::launder(reinterpret_cast<JobRecord*>(base));
    return JobRing(header, records, base + std::size_t{capacity} * sizeof(JobRecord), capacity, max_input, max_output);
}

std::optional<JobTicket> JobRing::submit(std::uint32_t requester_slot, std::uint64_t requester_generation,
                                         std::uint64_t job_id, const JobParams& params,
                                         std::int64_t deadline_ms, std::string_view input) noexcept {
    if (requester_slot >= job_ring_max_slots || input.size() > max_input_) return std::nullopt;
    JobParams sized = params;
    sized.input_length = static_cast<std::uint32_t>(input.size());
    // Any hint works (it is only where the scan starts): a scribbled one is reduced.
    const std::uint32_t start = header_->free_hint.load(std::memory_order_relaxed) % capacity_;
    for (std::uint32_t step = 0; step < capacity_; ++step) {
        const std::uint32_t index = (start + step) % capacity_;
        JobRecord& record = records_[index];
        std::uint64_t control = record.control.load(std::memory_order_acquire);
        const JobControl seen = unpack_control(control);
        if (seen.state != JobState::free) continue;
        const std::uint64_t filling = pack_control(JobState::filling, false, requester_slot, seen.sequence);
        if (!transition(record, control, filling)) continue;  // another requester took it

        const std::uint64_t ticket = header_->next_ticket.fetch_add(1, std::memory_order_relaxed);
        // Ours while filling: nobody reads this record's stretch until queued.
        if (!input.empty()) std::memcpy(input_of(index), input.data(), input.size());
        fill(record, ticket, {requester_slot, requester_generation, job_id}, sized, deadline_ms);
        control = filling;
        // Fails only if something scribbled over a record we own: leave it to reclaim_corrupt().
        if (!transition(record, control, pack_control(JobState::queued, false, requester_slot, seen.sequence))) {
            return std::nullopt;
        }
        header_->free_hint.store((index + 1) % capacity_, std::memory_order_relaxed);
        notify_work();
        return JobTicket{index, seen.sequence};
    }
    return std::nullopt;
}

bool JobRing::cancel(JobTicket ticket) noexcept {
    if (ticket.index >= capacity_) return false;
    JobRecord& record = records_[ticket.index];
    std::uint64_t control = record.control.load(std::memory_order_acquire);
    const JobControl seen = unpack_control(control);
    if (seen.state != JobState::queued || seen.sequence != ticket.sequence) return false;
    // A failure here means a consumer claimed it a moment ago.
    return transition(record, control, free_word(seen.sequence));
}

std::optional<std::uint64_t> JobRing::take_result(std::uint32_t index, std::uint32_t slot, std::uint64_t generation,
                                                  JobResult& out, std::string& output) {
    JobRecord& record = records_[index];
    std::uint64_t control = record.control.load(std::memory_order_acquire);
    const JobControl seen = unpack_control(control);
    if (seen.state != JobState::done || seen.owner != slot) return std::nullopt;
    if (record.requester_generation.load(std::memory_order_acquire) != generation) return std::nullopt;
    const std::uint64_t job_id = record.job_id.load(std::memory_order_acquire);
    // Plain copy: nobody writes the result of a done record, and only this
    // requester (or its repair, once it is dead) frees it.
    out = record.result;
    // The length from our private copy, bounded by our private size: a
    // scribbled one cannot reach past this record's stretch.
    if (out.output_length > max_output_) {
        out.status = static_cast<std::uint32_t>(JobStatus::invalid);
        out.output_length = 0;
    }
    output.assign(reinterpret_cast<const char*>(output_of(index)), out.output_length);
    if (!transition(record, control, free_word(seen.sequence))) return std::nullopt;
    return job_id;
}

std::optional<std::uint32_t> JobRing::oldest_queued(std::uint64_t& control) const noexcept {
    std::optional<std::uint32_t> oldest;
    std::uint64_t oldest_ticket = 0;
    for (std::uint32_t index = 0; index < capacity_; ++index) {
        const JobRecord& record = records_[index];
        const std::uint64_t word = record.control.load(std::memory_order_acquire);
        if (unpack_control(word).state != JobState::queued) continue;
        const std::uint64_t ticket = record.ticket.load(std::memory_order_acquire);
        if (!oldest || ticket < oldest_ticket) {
            oldest = index;
            oldest_ticket = ticket;
            control = word;
        }
    }
    return oldest;
}

std::optional<ClaimedJob> JobRing::claim(std::uint32_t consumer_slot, std::int64_t now_ms) {
    if (consumer_slot >= job_ring_max_slots) return std::nullopt;
    for (int scan = 0; scan < claim_scans; ++scan) {
        std::uint64_t control = 0;
        const auto index = oldest_queued(control);
        if (!index) return std::nullopt;
        JobRecord& record = records_[*index];
        const std::uint64_t sequence = unpack_control(control).sequence;
        if (!transition(record, control, pack_control(JobState::running, false, consumer_slot, sequence))) continue;

        record.started_ms.store(now_ms, std::memory_order_release);
        ClaimedJob job;
        job.ticket = {*index, sequence};
        job.consumer_slot = consumer_slot;
        job.requester = requester_of(record);
        job.deadline_ms = record.deadline_ms.load(std::memory_order_acquire);
        job.params = record.params;  // plain: nobody writes params or input of a running record
        if (job.params.input_length > max_input_) {
            job.params.input_length = 0;
            job.params.task = max_tasks;  // no table has it: the job answers invalid
        }
        job.input.assign(reinterpret_cast<const char*>(input_of(*index)), job.params.input_length);
        return job;
    }
    return std::nullopt;
}

std::optional<JobRequester> JobRing::finish(const ClaimedJob& job, const JobResult& result,
                                            std::string_view output) noexcept {
    if (job.ticket.index >= capacity_) return std::nullopt;
    JobRecord& record = records_[job.ticket.index];
    const std::uint64_t sequence = job.ticket.sequence;
    const std::uint64_t mine = pack_control(JobState::running, false, job.consumer_slot, sequence);
    std::uint64_t control = record.control.load(std::memory_order_acquire);
    if (control == mine) {
        // Ours while running: nobody reads the result or the output before done.
        JobResult stored = result;
        if (output.size() > max_output_) {
            stored.status = static_cast<std::uint32_t>(JobStatus::output_too_large);
            stored.output_length = 0;
        } else {
            stored.output_length = static_cast<std::uint32_t>(output.size());
            if (!output.empty()) std::memcpy(output_of(job.ticket.index), output.data(), output.size());
        }
        record.result = stored;
        const std::uint64_t delivered = delivered_word(job.requester.slot, sequence);
        if (transition(record, control, delivered)) {
            if (unpack_control(delivered).state == JobState::done) return job.requester;
            return std::nullopt;
        }
        // The supervisor orphaned it meanwhile: `control` holds the new value.
    }
    if (control == (mine | job_control::orphan_bit)) (void)transition(record, control, free_word(sequence));
    return std::nullopt;
}

std::uint32_t JobRing::work_seq() const noexcept { return header_->work_seq.load(std::memory_order_acquire); }

void JobRing::notify_work() noexcept {
    header_->work_seq.fetch_add(1, std::memory_order_release);
    // One syscall per job (microseconds against a job's milliseconds), and no
    // waiter count in the segment that a dead waiter could leave wrong.
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&header_->work_seq), FUTEX_WAKE, 1, nullptr, nullptr,
                    0);
}

WorkWait JobRing::wait_for_work(std::uint32_t seen, int timeout_ms) noexcept {
    timespec timeout{};
    timespec* relative = nullptr;
    if (timeout_ms >= 0) {
        timeout.tv_sec = timeout_ms / 1000;
        timeout.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1'000'000;
        relative = &timeout;
    }
    // Not FUTEX_PRIVATE_FLAG: the waker is another process mapping the same page.
    const long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&header_->work_seq), FUTEX_WAIT, seen,
                              relative, nullptr, 0);
    if (rc == 0) return WorkWait::woken;
    switch (errno) {
        case EAGAIN: return WorkWait::changed;
        case ETIMEDOUT: return WorkWait::timed_out;
        case EINTR: return WorkWait::interrupted;
        default: return WorkWait::failed;
    }
}

std::vector<JobRequester> JobRing::release_consumer(std::uint32_t consumer_slot) {
    std::vector<JobRequester> to_wake;
    for (std::uint32_t index = 0; index < capacity_; ++index) {
        JobRecord& record = records_[index];
        for (int attempt = 0; attempt < record_attempts; ++attempt) {
            std::uint64_t control = record.control.load(std::memory_order_acquire);
            const JobControl seen = unpack_control(control);
            if (seen.state != JobState::running || seen.owner != consumer_slot) break;
            if (seen.orphaned) {
                if (transition(record, control, free_word(seen.sequence))) break;
                continue;
            }
            const JobRequester requester = requester_of(record);
            // Its consumer is dead: the supervisor owns the record now, and
            // overwrites whatever half a result the consumer left.
            record.result = crashed_result();
            const std::uint64_t delivered = delivered_word(requester.slot, seen.sequence);
            if (transition(record, control, delivered)) {
                if (unpack_control(delivered).state == JobState::done) to_wake.push_back(requester);
                break;
            }
        }
    }
    return to_wake;
}

std::size_t JobRing::release_requester(std::uint32_t slot, std::uint64_t generation) noexcept {
    std::size_t changed = 0;
    for (std::uint32_t index = 0; index < capacity_; ++index) {
        JobRecord& record = records_[index];
        // A consumer may move a record of the dead requester on meanwhile
        // (queued → running → done): retry until it no longer matches.
        for (int attempt = 0; attempt < record_attempts; ++attempt) {
            std::uint64_t control = record.control.load(std::memory_order_acquire);
            const auto repaired = requester_repair(record, control, slot, generation);
            if (!repaired) break;
            if (transition(record, control, *repaired)) {
                ++changed;
                break;
            }
        }
    }
    return changed;
}

std::size_t JobRing::reclaim_corrupt(std::uint32_t slot_limit) noexcept {
    std::size_t reclaimed = 0;
    for (std::uint32_t index = 0; index < capacity_; ++index) {
        JobRecord& record = records_[index];
        std::uint64_t control = record.control.load(std::memory_order_acquire);
        const JobControl seen = unpack_control(control);
        const bool corrupt = !seen.state || (seen.state != JobState::free && seen.owner >= slot_limit);
        if (corrupt && transition(record, control, free_word(seen.sequence))) ++reclaimed;
    }
    return reclaimed;
}

JobRingLoad JobRing::load() const noexcept {
    JobRingLoad load;
    for (std::uint32_t index = 0; index < capacity_; ++index) {
        const JobControl seen = unpack_control(records_[index].control.load(std::memory_order_acquire));
        if (!seen.state) {
            ++load.corrupt;
            continue;
        }
        switch (*seen.state) {
            case JobState::free: ++load.free; break;
            case JobState::filling: ++load.filling; break;
            case JobState::queued: ++load.queued; break;
            case JobState::running: ++load.running; break;
            case JobState::done: ++load.done; break;
        }
    }
    return load;
}

std::optional<RunningJob> JobRing::running_at(std::uint32_t index) const noexcept {
    const JobRecord& record = records_[index];
    const std::uint64_t control = record.control.load(std::memory_order_acquire);
    const JobControl seen = unpack_control(control);
    if (seen.state != JobState::running) return std::nullopt;
    RunningJob job;
    job.ticket = {index, seen.sequence};
    job.consumer_slot = seen.owner;
    job.orphaned = seen.orphaned;
    job.started_ms = record.started_ms.load(std::memory_order_acquire);
    job.deadline_ms = record.deadline_ms.load(std::memory_order_acquire);
    job.order = record.ticket.load(std::memory_order_acquire);
    job.requester = requester_of(record);
    // Relaxed is enough: any field of a later job read above implies that
    // job's free → filling CAS happened before this load (seqlock.hpp).
    if (record.control.load(std::memory_order_relaxed) != control) return std::nullopt;
    return job;
}

}  // namespace clusterd
