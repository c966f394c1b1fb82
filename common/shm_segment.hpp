// The instance's shared-memory segment: created by the supervisor with
// Boost.Interprocess (mode 0600, named after the supervisor's pid), attached
// by workers and by `clusterd status`, removed when the supervisor exits.
// What lives inside is described in shm_layout.hpp; this file only owns the
// mapping and checks the header on attach, so a segment of another layout
// version or size is a clear error, never undefined behaviour.
#pragma once

#include <sys/types.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/job_ring.hpp"
#include "common/shm_layout.hpp"

namespace clusterd {

// "clusterd.4242": the name under /dev/shm of supervisor 4242's segment.
[[nodiscard]] std::string segment_name_for(pid_t supervisor_pid);

// What the supervisor sizes the segment for.
struct SegmentShape {
    std::uint32_t workers = 1;        // configured HTTP workers
    std::uint32_t http_slots = 2;     // scoreboard slots for HTTP workers (2 per worker, + the spares')
    std::uint32_t compute_slots = 0;  // scoreboard slots for compute processes
    std::uint32_t job_capacity = 0;   // job ring records; 0: no job ring
    std::uint32_t task_max_input = 0;   // bytes of input per job in the ring's payload area
    std::uint32_t task_max_output = 0;  // bytes of output per job
    std::uint32_t compute_mode = 0;   // a ComputeMode, for readers of the segment
};

class ShmSegment {
public:
    // Creates and initialises a segment of that shape.
    // Fails if one of that name exists (another live instance with our pid
    // cannot exist, so that is a leftover: remove_stale_segments runs first).
    [[nodiscard]] static std::variant<ShmSegment, std::string> create(const std::string& name,
                                                                      const SegmentShape& shape, pid_t supervisor);
    // Opens an existing segment and validates its header.
    enum class Access { read_write, read_only };
    [[nodiscard]] static std::variant<ShmSegment, std::string> attach(const std::string& name, Access access);

    ShmSegment(ShmSegment&&) noexcept = default;
    ShmSegment& operator=(ShmSegment&&) noexcept = default;
    ShmSegment(const ShmSegment&) = delete;
    ShmSegment& operator=(const ShmSegment&) = delete;
    ~ShmSegment();

    [[nodiscard]] SegmentHeader& header() const { return *static_cast<SegmentHeader*>(region_.get_address()); }
    [[nodiscard]] ScoreboardSlot& slot(std::uint32_t index) const;
    [[nodiscard]] WorkerRings& rings(std::uint32_t index) const;
    [[nodiscard]] std::uint32_t slot_count() const { return header().slot_count; }
    [[nodiscard]] std::uint32_t http_slots() const { return header().http_slots; }
    // A view of the job ring, when the segment has one (--compute=processes).
    [[nodiscard]] std::optional<JobRing> jobs() const;
    [[nodiscard]] const std::string& name() const { return name_; }

    // Removes the name now (the creator calls it at exit); mappings stay valid.
    void remove();

private:
    ShmSegment(std::string name, boost::interprocess::mapped_region region, bool owner)
        : name_(std::move(name)), region_(std::move(region)), owner_(owner) {}

    std::string name_;
    boost::interprocess::mapped_region region_;
    bool owner_ = false;
};

// Removes /dev/shm/clusterd.* segments whose supervisor (the pid recorded in
// the header) is gone. Returns the names removed, for the log.
[[nodiscard]] std::vector<std::string> remove_stale_segments();

// Every segment of a live supervisor, for `clusterd status`.
[[nodiscard]] std::vector<std::string> live_segments();

}  // namespace clusterd
