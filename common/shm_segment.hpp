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
#include <string>
#include <variant>
#include <vector>

#include "common/shm_layout.hpp"

namespace clusterd {

// "clusterd.4242": the name under /dev/shm of supervisor 4242's segment.
[[nodiscard]] std::string segment_name_for(pid_t supervisor_pid);

class ShmSegment {
public:
    // Creates and initialises a segment for slot_count scoreboard slots.
    // Fails if one of that name exists (another live instance with our pid
    // cannot exist, so that is a leftover: remove_stale_segments runs first).
    [[nodiscard]] static std::variant<ShmSegment, std::string> create(const std::string& name,
                                                                      std::uint32_t slot_count, pid_t supervisor);
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
