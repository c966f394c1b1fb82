// The instance's shared-memory segment: two memfds created by the supervisor
// (no name in /dev/shm or anywhere else), inherited by its children as
// descriptors, gone with the last process that maps them. What lives inside
// is described in shm_layout.hpp; this file owns the descriptors and the
// mappings, and the layout every address is computed from.
//
// The supervisor keeps the layout it created in private memory (layout()):
// no offset, count or size is ever read back from shared memory on its side.
// Children take the layout from the header, which only the supervisor can
// write (sealed, handed out read-only), and check it against the mapping
// size, so a segment of another layout version or size is a clear error,
// never undefined behaviour. docs/SHM.md gives the whole argument.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <variant>

#include "common/job_ring.hpp"
#include "common/shm_layout.hpp"
#include "common/unique_fd.hpp"

namespace clusterd {

// What the supervisor sizes the segment for.
struct SegmentShape {
    std::uint32_t workers = 1;        // configured HTTP workers
    std::uint32_t http_slots = 2;     // scoreboard slots for HTTP workers (2 per worker)
    std::uint32_t compute_slots = 0;  // scoreboard slots for compute processes
    std::uint32_t job_capacity = 0;   // job ring records; 0: no job ring
    std::uint32_t task_max_input = 0;   // bytes of input per job in the ring's payload area
    std::uint32_t task_max_output = 0;  // bytes of output per job
    std::uint32_t compute_mode = 0;   // a ComputeMode, for readers of the segment
};

// The two descriptors of a segment, as a child inherits them.
struct SegmentFds {
    int header = -1;
    int body = -1;
};

// The bytes of the header memfd: the header, rounded up to whole pages.
[[nodiscard]] std::size_t segment_header_bytes();

// Checks a header against the size of the body it describes; "" if it is
// usable, else why not (a sentence for the log).
[[nodiscard]] std::string validate_header(const SegmentHeader& header, std::uint64_t body_bytes);

class ShmSegment {
public:
    // Creates and initialises a segment of that shape (the supervisor).
    [[nodiscard]] static std::variant<ShmSegment, std::string> create(const SegmentShape& shape, pid_t supervisor);
    // Maps a segment from inherited descriptors (a child) and validates its
    // header; the header is always mapped read-only. The descriptors stay
    // open (close-on-exec), owned by the caller.
    enum class Access { read_write, read_only };
    [[nodiscard]] static std::variant<ShmSegment, std::string> attach(SegmentFds fds, Access access);

    ShmSegment(ShmSegment&& other) noexcept;
    ShmSegment& operator=(ShmSegment&& other) noexcept;
    ShmSegment(const ShmSegment&) = delete;
    ShmSegment& operator=(const ShmSegment&) = delete;
    ~ShmSegment();

    // Read-only in a child's mapping: writing through it there faults.
    [[nodiscard]] SegmentHeader& header() const { return *static_cast<SegmentHeader*>(header_); }
    // The layout in private memory: the only source of addresses and counts.
    [[nodiscard]] const SegmentLayout& layout() const { return layout_; }
    // Slot `index` (< slot_count(), else abort: indices come from the caller's
    // own bookkeeping, never from shared memory).
    [[nodiscard]] ScoreboardSlot& slot(std::uint32_t index) const;
    [[nodiscard]] WorkerRings& rings(std::uint32_t index) const;
    [[nodiscard]] std::uint32_t slot_count() const { return layout_.slot_count; }
    [[nodiscard]] std::uint32_t http_slots() const { return layout_.http_slots; }
    // A view of the job ring, when the segment has one (--compute=processes),
    // sized from the private layout.
    [[nodiscard]] std::optional<JobRing> jobs() const { return jobs_; }
    // The whole body: everything any worker can write.
    [[nodiscard]] std::byte* body() const { return static_cast<std::byte*>(body_); }

    // The supervisor's descriptors for a child: the header always read-only,
    // the body read-write for workers and compute processes, read-only for
    // the admin worker. -1 in a segment that was attached.
    [[nodiscard]] SegmentFds child_fds(Access body_access) const;

private:
    ShmSegment() = default;
    void unmap() noexcept;

    SegmentLayout layout_;
    void* header_ = nullptr;
    void* body_ = nullptr;
    std::optional<JobRing> jobs_;
    UniqueFd header_read_only_;  // supervisor only
    UniqueFd body_read_write_;
    UniqueFd body_read_only_;
};

}  // namespace clusterd
