// The segment's trust boundary, unit by unit: the supervisor's layout is
// private and survives any scribble of the body; the header and the body's
// size cannot be changed by a child; a child refuses a header that lies; a
// forked child with the descriptors sees the same segment but cannot write
// the header.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <new>
#include <variant>

#include "common/scoreboard_snapshot.hpp"
#include "common/shm_segment.hpp"
#include "tests/unit/common/fork_child.hpp"

using namespace clusterd;

namespace {

ShmSegment make_segment(std::uint32_t job_capacity = 4) {
    SegmentShape shape;
    shape.workers = 2;
    shape.http_slots = 4;
    shape.compute_slots = job_capacity > 0 ? 2 : 0;
    shape.job_capacity = job_capacity;
    shape.task_max_input = 128;
    shape.task_max_output = 256;
    auto created = ShmSegment::create(shape, ::getpid());
    if (auto* error = std::get_if<std::string>(&created)) FAIL(*error);
    return std::move(std::get<ShmSegment>(created));
}

// A private copy of a header's bytes (a header holds atomics: it is not copyable).
struct HeaderCopy {
    explicit HeaderCopy(const ShmSegment& segment) { std::memcpy(bytes, &segment.header(), sizeof bytes); }
    [[nodiscard]] SegmentHeader& get() { return *std::launder(reinterpret_cast<SegmentHeader*>(bytes)); }
    alignas(SegmentHeader) unsigned char bytes[sizeof(SegmentHeader)];
};

// A read-write reopen of one of our own descriptors, as a same-uid process
// reaching /proc/<pid>/fd would make it.
int reopen_read_write(int fd) { return ::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDWR | O_CLOEXEC); }

}  // namespace

TEST_CASE("the supervisor's layout is computed once, in private memory", "[common][shm]") {
    ShmSegment segment = make_segment();
    const SegmentLayout expected = layout_for(6, 4, 4, 128, 256);
    CHECK(segment.layout().slot_count == 6);
    CHECK(segment.layout().http_slots == 4);
    CHECK(segment.layout().body_size == expected.body_size);
    CHECK(segment.layout().rings_offset == expected.rings_offset);
    CHECK(validate_header(segment.header(), segment.layout().body_size).empty());
    ScoreboardSlot* last_slot = &segment.slot(5);
    WorkerRings* last_rings = &segment.rings(5);

    // A worker writes garbage over every byte of the body, ring header included.
    std::memset(segment.body(), 0xff, segment.layout().body_size);
    CHECK(segment.slot_count() == 6);
    CHECK(segment.http_slots() == 4);
    CHECK(&segment.slot(5) == last_slot);
    CHECK(&segment.rings(5) == last_rings);
    auto jobs = segment.jobs();
    REQUIRE(jobs);
    CHECK(jobs->capacity() == 4);
    CHECK(jobs->max_input() == 128);
    CHECK(jobs->max_output() == 256);
    // Its repairs still stay inside the ring and free what the scribble made impossible.
    CHECK(jobs->reclaim_corrupt(segment.slot_count()) == 4);
    CHECK(jobs->load().free == 4);
}

TEST_CASE("a child's header is read-only and the body cannot be resized", "[common][shm]") {
    ShmSegment segment = make_segment();
    const SegmentFds fds = segment.child_fds(ShmSegment::Access::read_write);
    REQUIRE(fds.header >= 0);
    REQUIRE(fds.body >= 0);
    CHECK((::fcntl(fds.header, F_GETFL) & O_ACCMODE) == O_RDONLY);
    CHECK(::mmap(nullptr, segment_header_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, fds.header, 0) == MAP_FAILED);

    // Even a read-write reopen gets no writable mapping and no write(): the seal.
    const int header_rw = reopen_read_write(fds.header);
    REQUIRE(header_rw >= 0);
    CHECK(::mmap(nullptr, segment_header_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, header_rw, 0) == MAP_FAILED);
    CHECK(errno == EPERM);
    CHECK(::write(header_rw, "x", 1) == -1);
    CHECK(::ftruncate(header_rw, 0) == -1);
    ::close(header_rw);

    // The body: writable, but its size is fixed (no SIGBUS for the supervisor).
    CHECK(::ftruncate(fds.body, 0) == -1);
    CHECK(::ftruncate(fds.body, static_cast<off_t>(segment.layout().body_size) * 2) == -1);
    CHECK((::fcntl(fds.body, F_GET_SEALS) & F_SEAL_SEAL) != 0);

    // The admin worker's body descriptor is read-only.
    const SegmentFds admin = segment.child_fds(ShmSegment::Access::read_only);
    CHECK((::fcntl(admin.body, F_GETFL) & O_ACCMODE) == O_RDONLY);
}

TEST_CASE("a forked child maps the same segment by descriptor and cannot write its header", "[common][shm]") {
    ShmSegment segment = make_segment();
    const SegmentFds fds = segment.child_fds(ShmSegment::Access::read_write);
    const pid_t child = fork_child([&] {
        auto attached = ShmSegment::attach(fds, ShmSegment::Access::read_write);
        if (!std::holds_alternative<ShmSegment>(attached)) ::_exit(10);
        auto& mine = std::get<ShmSegment>(attached);
        if (mine.slot_count() != 6 || !mine.jobs() || mine.jobs()->capacity() != 4) ::_exit(11);
        mine.slot(2).bytes_in.store(4242);  // the body is shared and writable
        std::signal(SIGSEGV, SIG_DFL);            // not Catch's (nor ASan's) report: just die of it
        mine.header().stats.hang_kills.store(1);  // faults: the header is mapped read-only
        ::_exit(12);
    });
    REQUIRE(child > 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    // Killed by the fault: never past the write to the header, never refused the attach.
    INFO("status " << status);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGSEGV);
    CHECK(segment.slot(2).bytes_in.load() == 4242);
    CHECK(segment.header().stats.hang_kills.load() == 0);
}

TEST_CASE("a child refuses a header that does not describe its body", "[common][shm]") {
    ShmSegment segment = make_segment();
    const std::uint64_t body = segment.layout().body_size;
    HeaderCopy good(segment);
    CHECK(validate_header(good.get(), body).empty());
    CHECK_THAT(validate_header(good.get(), body - 1), Catch::Contains("does not match its size"));

    auto lie = [&](auto change) {
        HeaderCopy copy(segment);
        change(copy.get());
        return validate_header(copy.get(), body);
    };
    CHECK_THAT(lie([](SegmentHeader& h) { h.magic = 1; }), Catch::Contains("bad magic"));
    CHECK_THAT(lie([](SegmentHeader& h) { h.layout_version = 6; }), Catch::Contains("layout version is 6"));
    CHECK_FALSE(lie([](SegmentHeader& h) { h.slot_count = 0; }).empty());
    CHECK_FALSE(lie([](SegmentHeader& h) { h.slot_count = segment_max_slots + 1; }).empty());
    CHECK_FALSE(lie([](SegmentHeader& h) { h.http_slots = h.slot_count + 1; }).empty());
    CHECK_FALSE(lie([](SegmentHeader& h) { h.slot_count += 1; }).empty());
    CHECK_FALSE(lie([](SegmentHeader& h) { h.rings_offset += 64; }).empty());
    CHECK_FALSE(lie([](SegmentHeader& h) { h.jobs_offset = 0; }).empty());
    CHECK_FALSE(lie([](SegmentHeader& h) { h.body_size = ~0ULL; }).empty());
    CHECK_FALSE(lie([](SegmentHeader& h) { h.job_capacity = job_ring_max_capacity + 1; }).empty());
    CHECK_FALSE(lie([](SegmentHeader& h) { h.task_max_input = job_payload_max + 1; }).empty());
}

TEST_CASE("a child refuses descriptors that are not the segment's memfds", "[common][shm]") {
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    auto attached = ShmSegment::attach({pipe_fds[0], pipe_fds[1]}, ShmSegment::Access::read_only);
    REQUIRE(std::holds_alternative<std::string>(attached));
    CHECK_THAT(std::get<std::string>(attached), Catch::Contains("not a memfd"));
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    auto closed = ShmSegment::attach({-1, -1}, ShmSegment::Access::read_only);
    REQUIRE(std::holds_alternative<std::string>(closed));
    CHECK_THAT(std::get<std::string>(closed), Catch::Contains("not open"));

    // A memfd too small for a header is refused before anything is mapped.
    ShmSegment segment = make_segment(0);
    const int tiny = ::memfd_create("tiny", MFD_CLOEXEC);
    REQUIRE(tiny >= 0);
    REQUIRE(::ftruncate(tiny, 16) == 0);
    auto small = ShmSegment::attach({tiny, segment.child_fds(ShmSegment::Access::read_only).body},
                                    ShmSegment::Access::read_only);
    REQUIRE(std::holds_alternative<std::string>(small));
    CHECK_THAT(std::get<std::string>(small), Catch::Contains("smaller than a header"));
    ::close(tiny);
}

// corpus/scribbled_segment/regression-uptime-overflow: a start time of
// INT64_MIN made the uptime's subtraction overflow (UBSan).
TEST_CASE("scribbled times, states and strings in the scoreboard read as unknown, never as garbage", "[common][shm]") {
    ShmSegment segment = make_segment();
    const std::int64_t now = 1'000'000;
    ScoreboardSlot& board = segment.slot(1);
    board.generation.store(3);
    board.pid.store(77);
    board.state.store(0xdeadbeef);
    board.started_ms.store(INT64_MIN);
    board.worker_generation.store(3);
    board.heartbeat_ms.store(INT64_MAX);
    CurrentRequest request;
    request.started_ms = INT64_MIN;
    std::memset(request.method, 'G', sizeof request.method);  // no NUL anywhere
    board.current.write(request);
    ExitNote note;
    std::memset(note.text, '\n', sizeof note.text);
    board.last_exit.write(note);

    const ClusterSnapshot cluster = take_snapshot(segment, now);
    REQUIRE(cluster.workers.size() == 1);
    const WorkerSnapshot& worker = cluster.workers[0];
    CHECK(worker.state == "invalid");
    CHECK(worker.uptime_seconds == 0);
    CHECK_FALSE(worker.heartbeat_age_seconds);
    CHECK_FALSE(worker.current);
    CHECK(worker.last_exit == std::string(sizeof note.text, '?'));

    // A start in the future is no uptime either.
    board.started_ms.store(now + 5);
    CHECK(take_snapshot(segment, now).workers[0].uptime_seconds == 0);
    board.started_ms.store(now - 2500);
    CHECK(take_snapshot(segment, now).workers[0].uptime_seconds == Approx(2.5));
}
