// Arbitrary bytes over a ring's memory image, then the calls a survivor
// makes on it: a crashing worker can leave anything in its rings, and the
// supervisor (log ring, job ring) and the worker (command ring) must read,
// repair and reuse them without crashing, hanging or reading outside them.
// Shared by the libFuzzer targets and the unit test that replays the corpus.
//
// Every image lives in a heap block of exactly its size, so ASan reports any
// read outside it. Inputs are little programs: the first bytes fill the
// image, the rest are operations (one byte each, some with an argument)
// interleaving the survivor's calls with further scribbles, as a live but
// broken peer would make them.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/job_ring.hpp"
#include "common/shm_layout.hpp"
#include "common/spsc_ring.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace clusterd::fuzz {

// Reads the input front to back; past the end it yields zeros.
class ByteStream {
public:
    ByteStream(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    [[nodiscard]] bool empty() const { return offset_ >= size_; }
    std::uint8_t byte() { return offset_ < size_ ? data_[offset_++] : 0; }
    std::uint64_t u64() {
        std::uint64_t value = 0;
        for (int i = 0; i < 8; ++i) value |= std::uint64_t{byte()} << (8 * i);
        return value;
    }
    // Copies up to n bytes (fewer at the end) into out; returns how many.
    std::size_t bytes(void* out, std::size_t n) {
        const std::size_t take = std::min(n, size_ - std::min(offset_, size_));
        if (take > 0) std::memcpy(out, data_ + offset_, take);
        offset_ += take;
        return take;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t offset_ = 0;
};

// A block of exactly `size` bytes at 64-byte alignment (ASan's redzone sits
// right after it).
struct AlignedImage {
    explicit AlignedImage(std::size_t size)
        : bytes(size), memory(static_cast<std::byte*>(::operator new(size, std::align_val_t{64}))) {
        std::memset(memory, 0, size);
    }
    ~AlignedImage() { ::operator delete(memory, std::align_val_t{64}); }
    AlignedImage(const AlignedImage&) = delete;
    AlignedImage& operator=(const AlignedImage&) = delete;
    std::size_t bytes;
    std::byte* memory;
};

// A value near where the indices are, or anywhere: what a scribbler writes.
inline std::uint64_t scribble_value(ByteStream& in, std::uint64_t near) {
    const std::uint8_t how = in.byte();
    switch (how % 4) {
        case 0: return near + (how >> 2);
        case 1: return near - (how >> 2);
        case 2: return in.u64();
        default: return near + (std::uint64_t{1} << (how % 64));
    }
}

// What the supervisor does with a log record (supervisor/worker_logs.cpp):
// a level it clamps and a length it cuts to the buffer.
inline std::size_t decode(const LogRecord& record) {
    const std::size_t length = std::min<std::size_t>(record.length, sizeof record.text);
    std::size_t sum = record.level <= 6 ? record.level : 4;
    for (char c : std::string_view(record.text, length)) sum += static_cast<unsigned char>(c);
    return sum;
}
// What a worker does with a command (worker/worker.cpp): known ones, or ignored.
inline std::size_t decode(const CommandRecord& record) {
    return record.command == static_cast<std::uint32_t>(Command::drain) ||
                   record.command == static_cast<std::uint32_t>(Command::reopen_logs)
               ? 1
               : 0;
}

template <typename Record, std::size_t Capacity>
void run_spsc_ring(const std::uint8_t* data, std::size_t size) {
    using Ring = SpscRing<Record, Capacity>;
    ByteStream in(data, size);
    AlignedImage image(sizeof(Ring));
    // The image: head, tail, then the first slot's bytes; the other slots
    // repeat them, so every slot holds attacker-chosen bytes.
    const std::uint64_t head = in.u64();
    const std::uint64_t tail = in.u64();
    Record pattern{};
    in.bytes(static_cast<void*>(&pattern), sizeof pattern);
    auto* ring = new (image.memory) Ring();
    ring->head.store(head, std::memory_order_relaxed);
    ring->tail.store(tail, std::memory_order_relaxed);
    for (auto& slot : ring->slots) std::memcpy(static_cast<void*>(&slot), &pattern, sizeof pattern);

    RingConsumer<Record, Capacity> consumer(*ring);
    RingProducer<Record, Capacity> producer(*ring);
    std::array<Record, Capacity + 3> batch{};
    std::size_t unreleased = 0;  // popped since the last release() or reset()
    // A scribbled tail lets our producer overwrite what the consumer has not
    // released; the consumer then (rightly) reads on, so the count above
    // means nothing until the next reset.
    bool tail_scribbled = false;
    std::size_t checksum = 0;
    while (!in.empty()) {
        const std::uint8_t op = in.byte();
        switch (op % 8) {
            case 0: {  // the survivor's read, with a batch of 1..Capacity+3 records
                const std::size_t want = 1 + in.byte() % batch.size();
                const bool was_corrupted = consumer.producer_corrupted();
                const RingRead got = consumer.pop_batch(std::span<Record>(batch.data(), want));
                FUZZ_CHECK(got.count <= want, "pop_batch returned more than asked");
                FUZZ_CHECK(!got.corrupted || got.count == 0, "records read from a corrupted ring");
                FUZZ_CHECK(!was_corrupted || got.corrupted, "corruption is not sticky");
                unreleased += got.count;
                FUZZ_CHECK(tail_scribbled || unreleased <= Capacity, "more records popped than the ring holds");
                for (std::size_t i = 0; i < got.count; ++i) checksum += decode(batch[i]);
                break;
            }
            case 1:
                consumer.release();
                unreleased = 0;
                break;
            case 2:  // a broken producer moves head
                ring->head.store(scribble_value(in, ring->head.load()), std::memory_order_release);
                break;
            case 3:  // a broken consumer moves tail (seen by our producer)
                ring->tail.store(scribble_value(in, ring->tail.load()), std::memory_order_release);
                tail_scribbled = true;
                break;
            case 4:  // the peer was reaped: drain and start over, as the supervisor does
                consumer.reset();
                producer = RingProducer<Record, Capacity>(*ring);
                unreleased = 0;
                tail_scribbled = false;
                FUZZ_CHECK(!consumer.producer_corrupted(), "reset left the consumer corrupted");
                FUZZ_CHECK(!producer.consumer_corrupted(), "reset left the producer corrupted");
                break;
            case 5: {
                const bool corrupted = producer.consumer_corrupted();
                const bool pushed = producer.try_push(pattern);
                FUZZ_CHECK(!(pushed && corrupted), "pushed into a ring whose consumer is corrupted");
                break;
            }
            case 6:
                producer.publish();
                break;
            case 7: {  // rewrite one published slot under the reader
                Record scribble{};
                std::memset(static_cast<void*>(&scribble), op, sizeof scribble);
                std::memcpy(static_cast<void*>(&ring->slots[in.byte() % Capacity]), &scribble, sizeof scribble);
                break;
            }
        }
    }
    (void)checksum;
}

inline void run_log_ring(const std::uint8_t* data, std::size_t size) {
    run_spsc_ring<LogRecord, log_ring_capacity>(data, size);
}
inline void run_command_ring(const std::uint8_t* data, std::size_t size) {
    run_spsc_ring<CommandRecord, command_ring_capacity>(data, size);
}

// Slots as a scribbler names them: mostly small, sometimes at or past the limits.
inline std::uint32_t slot_value(std::uint8_t byte) {
    switch (byte >> 5) {
        case 6: return job_ring_max_slots - 1;
        case 7: return job_ring_max_slots + byte;
        default: return byte % 8;
    }
}

// The repair calls leave nothing of what they were asked to release.
inline void check_released_consumer(JobRing& ring, std::uint32_t slot) {
    bool found = false;
    ring.for_each_running([&](const RunningJob& job) { found = found || job.consumer_slot == slot; });
    FUZZ_CHECK(!found, "a job still running on a released consumer");
}

inline void run_job_ring(const std::uint8_t* data, std::size_t size) {
    ByteStream in(data, size);
    const std::uint8_t shape = in.byte();
    const std::uint32_t capacity = 1 + shape % 16;
    // A small payload area: inputs and outputs up to 16 bytes each.
    constexpr std::uint32_t payload = 16;
    const std::size_t bytes =
        job_ring_bytes(capacity, payload, payload) - ((shape & 0x80) != 0 ? in.byte() % 64 : 0);
    AlignedImage image(bytes);
    if (bytes >= job_ring_bytes(capacity, payload, payload)) {
        FUZZ_CHECK(JobRing::create(image.memory, bytes, capacity, payload, payload).has_value(),
                   "create() refused a good image");
    }
    // Scribble over the header (sometimes) and the records (always).
    if ((shape & 0x40) != 0) in.bytes(image.memory, std::min<std::size_t>(bytes, in.byte()));
    if (bytes > sizeof(JobRingHeader)) {
        const std::size_t records = bytes - sizeof(JobRingHeader);
        const std::size_t take = std::min<std::size_t>(records, std::size_t{in.byte()} * 8);
        in.bytes(image.memory + sizeof(JobRingHeader), take);
    }
    auto attached = JobRing::attach(image.memory, bytes);
    if (!attached) return;
    JobRing& ring = *attached;
    FUZZ_CHECK(job_ring_bytes(ring.capacity(), ring.max_input(), ring.max_output()) <= bytes,
               "attach() accepted a capacity or payload area beyond the image");

    std::vector<ClaimedJob> claimed;
    std::vector<JobTicket> tickets;
    std::uint64_t job_id = 0;
    while (!in.empty()) {
        const std::uint8_t op = in.byte();
        const std::uint8_t arg = in.byte();
        switch (op % 11) {
            case 0: {
                const std::uint32_t slot = slot_value(arg);
                if (auto job = ring.claim(slot, 1000)) {
                    FUZZ_CHECK(job->ticket.index < ring.capacity(), "claimed a record outside the ring");
                    FUZZ_CHECK(slot < job_ring_max_slots, "claimed for an impossible slot");
                    claimed.push_back(*job);
                }
                break;
            }
            case 1:
                if (!claimed.empty()) {
                    JobResult result;
                    result.status = static_cast<std::uint32_t>(JobStatus::ok);
                    const ClaimedJob& job = claimed[arg % claimed.size()];
                    FUZZ_CHECK(job.input.size() <= ring.max_input(), "a claimed input longer than the area");
                    (void)ring.finish(job, result, std::string(arg % 24, 'o'));
                }
                break;
            case 2:
                ring.collect(slot_value(arg), arg % 3,
                             [&](std::uint64_t, const JobResult& result, std::string_view output) {
                                 FUZZ_CHECK(output.size() <= ring.max_output(), "an output longer than the area");
                                 FUZZ_CHECK(result.output_length == output.size() ||
                                                result.status == static_cast<std::uint32_t>(JobStatus::invalid),
                                            "an output length that disagrees with the bytes handed out");
                             });
                break;
            case 3: {
                const std::uint32_t slot = slot_value(arg);
                const auto woken = ring.release_consumer(slot);
                for (const auto& requester : woken) {
                    FUZZ_CHECK(requester.slot < job_ring_max_slots, "a requester to wake that cannot exist");
                }
                check_released_consumer(ring, slot);
                break;
            }
            case 4: {
                const std::uint32_t slot = slot_value(arg);
                const std::uint64_t generation = arg % 3;
                (void)ring.release_requester(slot, generation);
                ring.for_each_running([&](const RunningJob& job) {
                    FUZZ_CHECK(job.orphaned || job.requester.slot != slot || job.requester.generation != generation,
                               "a released requester's running job is not orphaned");
                });
                break;
            }
            case 5: {
                const std::uint32_t limit = 1 + arg % 16;
                (void)ring.reclaim_corrupt(limit);
                FUZZ_CHECK(ring.load().corrupt == 0, "garbage states left after reclaim_corrupt()");
                ring.for_each_running([&](const RunningJob& job) {
                    FUZZ_CHECK(job.consumer_slot < limit, "a running job with an impossible owner after reclaim");
                });
                break;
            }
            case 6: {
                const JobRingLoad load = ring.load();
                FUZZ_CHECK(load.free + load.filling + load.queued + load.running + load.done + load.corrupt ==
                               ring.capacity(),
                           "load() does not add up to the capacity");
                break;
            }
            case 7: {
                JobParams params;
                params.task = arg;
                if (auto ticket = ring.submit(slot_value(arg), arg % 3, ++job_id, params, 5000,
                                              std::string(arg % 24, 'i'))) {
                    FUZZ_CHECK(ticket->index < ring.capacity(), "submitted outside the ring");
                    tickets.push_back(*ticket);
                }
                break;
            }
            case 8:
                if (!tickets.empty()) (void)ring.cancel(tickets[arg % tickets.size()]);
                break;
            case 9: {  // a broken peer rewrites one control word
                const std::uint32_t index = arg % ring.capacity();
                auto* records = reinterpret_cast<JobRecord*>(image.memory + sizeof(JobRingHeader));
                records[index].control.store(in.u64(), std::memory_order_release);
                break;
            }
            case 10:
                ring.for_each_running([&](const RunningJob& job) {
                    FUZZ_CHECK(job.ticket.index < ring.capacity(), "a running job outside the ring");
                });
                break;
        }
    }
}

}  // namespace clusterd::fuzz
