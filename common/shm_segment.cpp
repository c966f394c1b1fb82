#include "common/shm_segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/monotonic.hpp"

namespace clusterd {

namespace {

std::string errno_text(const char* call) { return std::string(call) + " failed: " + std::strerror(errno); }

// A memfd of `bytes` bytes, mode 0600, with sealing allowed.
std::variant<UniqueFd, std::string> make_memfd(const char* name, std::uint64_t bytes) {
    UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) return errno_text("memfd_create()");
    // memfds start 0777: a process of our uid that reaches /proc/<pid>/fd of
    // one of our children must not get more than the inode allows.
    if (::fchmod(fd.get(), 0600) != 0) return errno_text("fchmod() of the memfd");
    if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) return errno_text("ftruncate() of the memfd");
    return fd;
}

// Fixes the size for good: a child holding the descriptor cannot shrink the
// file under the supervisor's mapping (SIGBUS on its next access) nor grow it.
std::optional<std::string> seal(int fd, int extra) {
    if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | extra | F_SEAL_SEAL) != 0) {
        return errno_text("fcntl(F_ADD_SEALS) of the memfd");
    }
    return std::nullopt;
}

// A second, read-only open file of the same memfd. Without /proc the
// original is returned (the header's is sealed against writable mappings
// anyway); the caller says what that costs.
UniqueFd reopen_read_only(int fd) {
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
}

void* map(int fd, std::size_t bytes, int prot) {
    void* at = ::mmap(nullptr, bytes, prot, MAP_SHARED, fd, 0);
    return at == MAP_FAILED ? nullptr : at;
}

// A descriptor a child inherited: a regular file (a memfd), at least `at_least` bytes.
std::variant<std::uint64_t, std::string> inherited_size(int fd, const char* what) {
    struct stat info {};
    if (fd < 0 || ::fstat(fd, &info) != 0) return std::string("the segment's ") + what + " descriptor is not open";
    if (!S_ISREG(info.st_mode)) return std::string("the segment's ") + what + " descriptor is not a memfd";
    return static_cast<std::uint64_t>(info.st_size);
}

}  // namespace

std::uint64_t segment_size(std::uint32_t slot_count, std::uint32_t job_capacity, std::uint32_t task_max_input,
                           std::uint32_t task_max_output) {
    return segment_jobs_offset(slot_count) +
           (job_capacity == 0 ? 0 : job_ring_bytes(job_capacity, task_max_input, task_max_output));
}

SegmentLayout layout_for(std::uint32_t slot_count, std::uint32_t http_slots, std::uint32_t job_capacity,
                         std::uint32_t task_max_input, std::uint32_t task_max_output) {
    SegmentLayout layout;
    layout.slot_count = slot_count;
    layout.http_slots = http_slots;
    layout.job_capacity = job_capacity;
    layout.task_max_input = task_max_input;
    layout.task_max_output = task_max_output;
    layout.slots_offset = segment_slots_offset();
    layout.rings_offset = segment_rings_offset(slot_count);
    layout.jobs_offset = segment_jobs_offset(slot_count);
    layout.body_size = segment_size(slot_count, job_capacity, task_max_input, task_max_output);
    return layout;
}

std::size_t segment_header_bytes() {
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return (sizeof(SegmentHeader) + page - 1) / page * page;
}

std::string validate_header(const SegmentHeader& header, std::uint64_t body_bytes) {
    if (header.magic != shm_magic) return "it is not a clusterd segment (bad magic)";
    if (header.layout_version != shm_layout_version) {
        return "its layout version is " + std::to_string(header.layout_version) + ", this binary reads " +
               std::to_string(shm_layout_version) + " (a different clusterd version created it)";
    }
    if (header.slot_count == 0 || header.slot_count > segment_max_slots || header.http_slots > header.slot_count ||
        header.job_capacity > job_ring_max_capacity || header.task_max_input > job_payload_max ||
        header.task_max_output > job_payload_max) {
        return "its header names an impossible shape";
    }
    const SegmentLayout expected = layout_for(header.slot_count, header.http_slots, header.job_capacity,
                                              header.task_max_input, header.task_max_output);
    if (header.slots_offset != expected.slots_offset || header.rings_offset != expected.rings_offset ||
        header.jobs_offset != expected.jobs_offset || header.body_size != expected.body_size ||
        body_bytes < header.body_size) {
        return "its header does not match its size";
    }
    return "";
}

std::variant<ShmSegment, std::string> ShmSegment::create(const SegmentShape& shape, pid_t supervisor) {
    ShmSegment segment;
    segment.layout_ = layout_for(shape.http_slots + shape.compute_slots, shape.http_slots, shape.job_capacity,
                                 shape.task_max_input, shape.task_max_output);
    const SegmentLayout& layout = segment.layout_;
    if (layout.slot_count == 0 || layout.slot_count > segment_max_slots) return std::string("no scoreboard slots");

    auto header_fd = make_memfd("clusterd-header", segment_header_bytes());
    if (auto* error = std::get_if<std::string>(&header_fd)) return "creating the shared memory header: " + *error;
    auto body_fd = make_memfd("clusterd-body", layout.body_size);
    if (auto* error = std::get_if<std::string>(&body_fd)) return "creating the shared memory segment: " + *error;
    UniqueFd& header_rw = std::get<UniqueFd>(header_fd);
    segment.body_read_write_ = std::move(std::get<UniqueFd>(body_fd));

    segment.header_ = map(header_rw.get(), segment_header_bytes(), PROT_READ | PROT_WRITE);
    if (segment.header_ == nullptr) return errno_text("mmap() of the shared memory header");
    segment.body_ = map(segment.body_read_write_.get(), layout.body_size, PROT_READ | PROT_WRITE);
    if (segment.body_ == nullptr) return errno_text("mmap() of the shared memory segment");

    // A fresh memfd is zero-filled; constructing in place makes the atomics'
    // lifetime start properly all the same.
    auto* header = new (segment.header_) SegmentHeader{};
    header->magic = shm_magic;
    header->layout_version = shm_layout_version;
    header->slot_count = layout.slot_count;
    header->body_size = layout.body_size;
    header->slots_offset = layout.slots_offset;
    header->rings_offset = layout.rings_offset;
    header->jobs_offset = layout.jobs_offset;
    header->job_capacity = layout.job_capacity;
    header->task_max_input = layout.task_max_input;
    header->task_max_output = layout.task_max_output;
    header->http_slots = layout.http_slots;
    header->workers = shape.workers;
    header->compute_mode = shape.compute_mode;
    header->supervisor_pid = supervisor;
    header->started_ms = monotonic_ms();
    std::byte* base = segment.body();
    for (std::uint32_t i = 0; i < layout.slot_count; ++i) {
        new (base + layout.slots_offset + std::size_t{i} * sizeof(ScoreboardSlot)) ScoreboardSlot{};
        new (base + layout.rings_offset + std::size_t{i} * sizeof(WorkerRings)) WorkerRings{};
    }
    if (layout.job_capacity > 0) {
        segment.jobs_ = JobRing::create(base + layout.jobs_offset, layout.body_size - layout.jobs_offset,
                                        layout.job_capacity, layout.task_max_input, layout.task_max_output);
        if (!segment.jobs_) return "the job ring cannot hold " + std::to_string(layout.job_capacity) + " jobs";
    }

    // The header: our mapping stays writable, no other can become so, by any
    // descriptor (F_SEAL_FUTURE_WRITE); children get a read-only one too.
    if (::fcntl(header_rw.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) != 0) {
        // Linux before 5.1 has no F_SEAL_FUTURE_WRITE: children still get a
        // read-only descriptor, but a process of our uid could reopen it
        // read-write through /proc. Say so rather than refuse to start.
        if (errno != EINVAL) return errno_text("fcntl(F_ADD_SEALS) of the shared memory header");
        if (auto error = seal(header_rw.get(), 0)) return "the shared memory header: " + *error;
        spdlog::warn("this kernel cannot seal the shared memory header against new writable mappings "
                     "(F_SEAL_FUTURE_WRITE, Linux 5.1): a process of this uid could write it");
    }
    if (auto error = seal(segment.body_read_write_.get(), 0)) return "the shared memory segment: " + *error;
    segment.header_read_only_ = reopen_read_only(header_rw.get());
    if (!segment.header_read_only_) segment.header_read_only_ = std::move(header_rw);
    segment.body_read_only_ = reopen_read_only(segment.body_read_write_.get());
    return segment;
}

std::variant<ShmSegment, std::string> ShmSegment::attach(SegmentFds fds, Access access) {
    auto header_size = inherited_size(fds.header, "header");
    if (auto* error = std::get_if<std::string>(&header_size)) return *error;
    auto body_size = inherited_size(fds.body, "body");
    if (auto* error = std::get_if<std::string>(&body_size)) return *error;
    if (std::get<std::uint64_t>(header_size) < segment_header_bytes()) {
        return std::string("the segment's header is smaller than a header");
    }
    // Whatever this process starts later must not inherit them.
    ::fcntl(fds.header, F_SETFD, FD_CLOEXEC);
    ::fcntl(fds.body, F_SETFD, FD_CLOEXEC);

    ShmSegment segment;
    segment.header_ = map(fds.header, segment_header_bytes(), PROT_READ);
    if (segment.header_ == nullptr) return errno_text("mmap() of the shared memory header");
    const SegmentHeader& header = segment.header();
    if (auto problem = validate_header(header, std::get<std::uint64_t>(body_size)); !problem.empty()) {
        return "the shared memory segment cannot be used: " + problem;
    }
    // Copied once: from here on only the private copy counts.
    segment.layout_ = layout_for(header.slot_count, header.http_slots, header.job_capacity, header.task_max_input,
                                 header.task_max_output);
    const int prot = access == Access::read_write ? PROT_READ | PROT_WRITE : PROT_READ;
    segment.body_ = map(fds.body, segment.layout_.body_size, prot);
    if (segment.body_ == nullptr) return errno_text("mmap() of the shared memory segment");
    if (segment.layout_.job_capacity > 0) {
        segment.jobs_ = JobRing::view(segment.body() + segment.layout_.jobs_offset,
                                      segment.layout_.body_size - segment.layout_.jobs_offset,
                                      segment.layout_.job_capacity, segment.layout_.task_max_input,
                                      segment.layout_.task_max_output);
    }
    return segment;
}

ShmSegment::ShmSegment(ShmSegment&& other) noexcept
    : layout_(other.layout_),
      header_(std::exchange(other.header_, nullptr)),
      body_(std::exchange(other.body_, nullptr)),
      jobs_(std::exchange(other.jobs_, std::nullopt)),
      header_read_only_(std::move(other.header_read_only_)),
      body_read_write_(std::move(other.body_read_write_)),
      body_read_only_(std::move(other.body_read_only_)) {}

ShmSegment& ShmSegment::operator=(ShmSegment&& other) noexcept {
    if (this != &other) {
        unmap();
        layout_ = other.layout_;
        header_ = std::exchange(other.header_, nullptr);
        body_ = std::exchange(other.body_, nullptr);
        jobs_ = std::exchange(other.jobs_, std::nullopt);
        header_read_only_ = std::move(other.header_read_only_);
        body_read_write_ = std::move(other.body_read_write_);
        body_read_only_ = std::move(other.body_read_only_);
    }
    return *this;
}

ShmSegment::~ShmSegment() { unmap(); }

void ShmSegment::unmap() noexcept {
    if (header_ != nullptr) ::munmap(header_, segment_header_bytes());
    if (body_ != nullptr) ::munmap(body_, layout_.body_size);
    header_ = nullptr;
    body_ = nullptr;
    jobs_.reset();
}

ScoreboardSlot& ShmSegment::slot(std::uint32_t index) const {
    if (index >= layout_.slot_count) std::abort();  // a caller's bug, never a value from shared memory
    return *std::launder(reinterpret_cast<ScoreboardSlot*>(body() + layout_.slots_offset +
                                                           std::size_t{index} * sizeof(ScoreboardSlot)));
}

WorkerRings& ShmSegment::rings(std::uint32_t index) const {
    if (index >= layout_.slot_count) std::abort();
    return *std::launder(
        reinterpret_cast<WorkerRings*>(body() + layout_.rings_offset + std::size_t{index} * sizeof(WorkerRings)));
}

SegmentFds ShmSegment::child_fds(Access body_access) const {
    SegmentFds fds;
    fds.header = header_read_only_.get();
    // Without /proc there is no read-only reopen: the admin worker then maps
    // the read-write descriptor read-only, as it always does.
    fds.body = body_access == Access::read_only && body_read_only_ ? body_read_only_.get() : body_read_write_.get();
    return fds;
}

}  // namespace clusterd
