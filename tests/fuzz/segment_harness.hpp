// A whole segment body a compromised worker scribbled, read from the
// supervisor's side: the input becomes the bytes of the body (every byte a
// worker can write), then the supervisor's readers run over it as they do
// after a death and on every watchdog tick: the snapshot behind /status,
// /metrics and `clusterd status`, every log ring drained, every command ring
// pushed to, the heartbeat judge, the job ring's repair, scan and reclaim.
// Nothing may read outside the body, loop without bound or report an
// impossible figure. Shared by the libFuzzer target and the unit test that
// replays the corpus.
//
// The segment is a real one (ShmSegment::create: two memfds), so every
// address comes from the private layout, as in the supervisor. Inputs: the
// first byte picks how the rest covers the body: repeated end to end, or as
// patches (offset, length, bytes) over a freshly initialised body, which
// keeps most structure intact and makes the scribbled fields the only lie.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "common/scoreboard_snapshot.hpp"
#include "common/shm_segment.hpp"
#include "supervisor/watchdog.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace clusterd::fuzz {

inline constexpr std::uint32_t scribbled_http_slots = 4;
inline constexpr std::uint32_t scribbled_compute_slots = 2;

inline ShmSegment scribble_target() {
    SegmentShape shape;
    shape.workers = 2;
    shape.http_slots = scribbled_http_slots;
    shape.compute_slots = scribbled_compute_slots;
    shape.job_capacity = 8;
    shape.task_max_input = 64;
    shape.task_max_output = 64;
    shape.compute_mode = 2;
    auto created = ShmSegment::create(shape, 1);
    FUZZ_CHECK(std::holds_alternative<ShmSegment>(created), "a segment can be created");
    return std::move(std::get<ShmSegment>(created));
}

inline void cover_body(ShmSegment& segment, const std::uint8_t* data, std::size_t size) {
    std::byte* body = segment.body();
    const std::size_t body_size = segment.layout().body_size;
    if (size == 0) return;
    if (data[0] % 2 == 0) {  // the rest, repeated over the whole body
        if (size == 1) return;
        const std::size_t pattern = size - 1;
        for (std::size_t at = 0; at < body_size; at += pattern) {
            std::memcpy(body + at, data + 1, std::min(pattern, body_size - at));
        }
        return;
    }
    // Patches: u32 offset (reduced into the body), u8 length, that many bytes.
    std::size_t i = 1;
    while (i + 5 <= size) {
        std::uint32_t offset = 0;
        std::memcpy(&offset, data + i, 4);
        const std::size_t length = data[i + 4];
        i += 5;
        const std::size_t at = offset % body_size;
        const std::size_t take = std::min({length, size - i, body_size - at});
        std::memcpy(body + at, data + i, take);
        i += take;
    }
}

inline void read_like_the_supervisor(const ShmSegment& segment) {
    const SegmentLayout& layout = segment.layout();
    const std::int64_t now = 1'000'000;

    // The snapshot: bounded by the private slot count, strings by their buffers.
    const ClusterSnapshot cluster = take_snapshot(segment, now);
    FUZZ_CHECK(cluster.workers.size() <= layout.slot_count, "no more workers than slots");
    for (const auto& worker : cluster.workers) {
        FUZZ_CHECK(worker.slot < layout.slot_count, "a slot index from the private layout");
        FUZZ_CHECK(worker.uptime_seconds >= 0, "a worker started before now");
        if (worker.current) {
            FUZZ_CHECK(worker.current->method.size() < sizeof(CurrentRequest{}.method) + 1, "method cut");
            FUZZ_CHECK(worker.current->target.size() < sizeof(CurrentRequest{}.target) + 1, "target cut");
            FUZZ_CHECK(worker.current->for_seconds >= 0, "a request started before now");
        }
        for (char c : worker.last_exit) FUZZ_CHECK(c >= 0x20 && c <= 0x7e, "printable last exit");
    }
    if (cluster.job_ring) {
        const auto& load = *cluster.job_ring;
        FUZZ_CHECK(load.free + load.filling + load.queued + load.running + load.done + load.corrupt <= layout.job_capacity,
                   "the load counts at most every record");
    }

    for (std::uint32_t i = 0; i < layout.slot_count; ++i) {
        ScoreboardSlot& board = segment.slot(i);
        // The heartbeat judge, with whatever the worker half says.
        const supervisor::HeartbeatReading reading{board.heartbeat_ms.load(), board.worker_generation.load(), 7, now - 10};
        (void)supervisor::judge_heartbeat(reading, now, std::chrono::milliseconds(1000));
        (void)read_current_request(board, now);

        // The log ring, drained as WorkerLogs::drain does: bounded, lengths clamped.
        RingConsumer<LogRecord, log_ring_capacity> logs(segment.rings(i).log);
        std::array<LogRecord, 32> batch;
        for (std::size_t read = 0; read < log_ring_capacity;) {
            const RingRead got = logs.pop_batch(batch);
            if (got.corrupted || got.count == 0) break;
            FUZZ_CHECK(got.count <= batch.size(), "a batch fits");
            for (std::size_t r = 0; r < got.count; ++r) {
                const std::size_t length = std::min<std::size_t>(batch[r].length, sizeof batch[r].text);
                FUZZ_CHECK(length <= sizeof batch[r].text, "a record's text in its buffer");
            }
            logs.release();
            read += got.count;
        }
        // The command ring, pushed to without re-initialising it (a
        // producer attached to a scribbled ring must refuse, not overrun).
        RingProducer<CommandRecord, command_ring_capacity> commands(segment.rings(i).commands);
        for (int c = 0; c < 20 && commands.try_push(CommandRecord{1, 0, 0}); ++c) {
        }
        commands.publish();
    }

    // The job ring's repair after every kind of death, its scan and reclaim.
    if (auto jobs = segment.jobs()) {
        FUZZ_CHECK(jobs->capacity() == layout.job_capacity, "the ring's capacity is the private one");
        (void)jobs->reclaim_corrupt(layout.slot_count);
        jobs->for_each_running([&](const RunningJob& job) { (void)job.consumer_slot; });
        for (std::uint32_t c = layout.http_slots; c < layout.slot_count; ++c) {
            for (const auto& requester : jobs->release_consumer(c)) (void)requester.slot;
        }
        for (std::uint32_t h = 0; h < layout.http_slots; ++h) (void)jobs->release_requester(h, 1);
        (void)jobs->reclaim_corrupt(layout.slot_count);
        const JobRingLoad load = jobs->load();
        FUZZ_CHECK(load.corrupt == 0, "reclaim leaves no record in an impossible state");
    }
}

// One segment for the whole run (creating memfds per input would be most of
// the time spent); each input starts from a copy of its freshly created body.
inline void run_scribbled_segment(const std::uint8_t* data, std::size_t size) {
    static ShmSegment segment = scribble_target();
    static const std::vector<std::byte> pristine(segment.body(), segment.body() + segment.layout().body_size);
    std::memcpy(segment.body(), pristine.data(), pristine.size());
    cover_body(segment, data, size);
    read_like_the_supervisor(segment);
}

}  // namespace clusterd::fuzz
