#include "common/shm_segment.hpp"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <boost/interprocess/exceptions.hpp>
#include <cerrno>
#include <memory>
#include <new>

#include "common/job_ring.hpp"
#include "common/monotonic.hpp"

namespace clusterd {
namespace bip = boost::interprocess;

namespace {

constexpr const char* name_prefix = "clusterd.";

std::string validate(const SegmentHeader& header, std::uint64_t mapped_size) {
    if (mapped_size < sizeof(SegmentHeader)) return "it is smaller than a header";
    if (header.magic != shm_magic) return "it is not a clusterd segment (bad magic)";
    if (header.layout_version != shm_layout_version) {
        return "its layout version is " + std::to_string(header.layout_version) + ", this binary reads " +
               std::to_string(shm_layout_version) + " (a different clusterd version created it)";
    }
    if (header.slots_offset != segment_slots_offset() || header.slot_count == 0 ||
        header.rings_offset != segment_rings_offset(header.slot_count) ||
        header.slot_count > 65536 || header.http_slots > header.slot_count || header.job_capacity > job_ring_max_capacity ||
        header.jobs_offset != segment_jobs_offset(header.slot_count) ||
        header.task_max_input > job_payload_max || header.task_max_output > job_payload_max ||
        header.total_size !=
            segment_size(header.slot_count, header.job_capacity, header.task_max_input, header.task_max_output) ||
        mapped_size < header.total_size) {
        return "its header does not match its size";
    }
    return "";
}

bool process_alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

std::vector<std::string> segment_names() {
    std::vector<std::string> names;
    struct CloseDir {
        void operator()(DIR* dir) const { closedir(dir); }
    };
    std::unique_ptr<DIR, CloseDir> dir(opendir("/dev/shm"));
    if (!dir) return names;
    while (const dirent* entry = readdir(dir.get())) {
        std::string name = entry->d_name;
        if (name.rfind(name_prefix, 0) == 0) names.push_back(std::move(name));
    }
    return names;
}

}  // namespace

std::uint64_t segment_size(std::uint32_t slot_count, std::uint32_t job_capacity, std::uint32_t task_max_input,
                           std::uint32_t task_max_output) {
    return segment_jobs_offset(slot_count) +
           (job_capacity == 0 ? 0 : job_ring_bytes(job_capacity, task_max_input, task_max_output));
}

std::string segment_name_for(pid_t supervisor_pid) { return name_prefix + std::to_string(supervisor_pid); }

std::variant<ShmSegment, std::string> ShmSegment::create(const std::string& name, const SegmentShape& shape,
                                                         pid_t supervisor) {
    const std::uint32_t slot_count = shape.http_slots + shape.compute_slots;
    try {
        bip::permissions owner_only;
        owner_only.set_permissions(0600);
        bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write, owner_only);
        const std::uint64_t size =
            segment_size(slot_count, shape.job_capacity, shape.task_max_input, shape.task_max_output);
        shm.truncate(static_cast<bip::offset_t>(size));
        bip::mapped_region region(shm, bip::read_write);
        // A fresh ftruncate'd object is zero-filled; constructing in place makes
        // the atomics' lifetime start properly all the same.
        auto* header = new (region.get_address()) SegmentHeader{};
        header->magic = shm_magic;
        header->layout_version = shm_layout_version;
        header->slot_count = slot_count;
        header->total_size = size;
        header->slots_offset = segment_slots_offset();
        header->rings_offset = segment_rings_offset(slot_count);
        header->jobs_offset = segment_jobs_offset(slot_count);
        header->job_capacity = shape.job_capacity;
        header->task_max_input = shape.task_max_input;
        header->task_max_output = shape.task_max_output;
        header->http_slots = shape.http_slots;
        header->workers = shape.workers;
        header->compute_mode = shape.compute_mode;
        header->supervisor_pid = supervisor;
        header->started_ms = monotonic_ms();
        auto* base = static_cast<char*>(region.get_address());
        for (std::uint32_t i = 0; i < slot_count; ++i) {
            new (base + segment_slots_offset() + i * sizeof(ScoreboardSlot)) ScoreboardSlot{};
            new (base + segment_rings_offset(slot_count) + i * sizeof(WorkerRings)) WorkerRings{};
        }
        if (shape.job_capacity > 0 &&
            !JobRing::create(base + header->jobs_offset,
                             job_ring_bytes(shape.job_capacity, shape.task_max_input, shape.task_max_output),
                             shape.job_capacity, shape.task_max_input, shape.task_max_output)) {
            bip::shared_memory_object::remove(name.c_str());
            return "the job ring cannot hold " + std::to_string(shape.job_capacity) + " jobs";
        }
        return ShmSegment(name, std::move(region), true);
    } catch (const bip::interprocess_exception& e) {
        bip::shared_memory_object::remove(name.c_str());
        return "creating shared memory /dev/shm/" + name + " failed: " + e.what();
    }
}

std::variant<ShmSegment, std::string> ShmSegment::attach(const std::string& name, Access access) {
    try {
        const auto mode = access == Access::read_write ? bip::read_write : bip::read_only;
        bip::shared_memory_object shm(bip::open_only, name.c_str(), mode);
        bip::mapped_region region(shm, mode);
        const auto& header = *static_cast<const SegmentHeader*>(region.get_address());
        if (auto problem = validate(header, region.get_size()); !problem.empty()) {
            return "shared memory /dev/shm/" + name + " cannot be used: " + problem;
        }
        return ShmSegment(name, std::move(region), false);
    } catch (const bip::interprocess_exception& e) {
        return "opening shared memory /dev/shm/" + name + " failed: " + e.what();
    }
}

ShmSegment::~ShmSegment() {
    if (owner_) remove();
}

ScoreboardSlot& ShmSegment::slot(std::uint32_t index) const {
    auto* base = static_cast<char*>(region_.get_address());
    return *reinterpret_cast<ScoreboardSlot*>(base + header().slots_offset + index * sizeof(ScoreboardSlot));
}

WorkerRings& ShmSegment::rings(std::uint32_t index) const {
    auto* base = static_cast<char*>(region_.get_address());
    return *reinterpret_cast<WorkerRings*>(base + header().rings_offset + index * sizeof(WorkerRings));
}

std::optional<JobRing> ShmSegment::jobs() const {
    if (header().job_capacity == 0) return std::nullopt;
    auto* base = static_cast<char*>(region_.get_address());
    return JobRing::attach(base + header().jobs_offset, header().total_size - header().jobs_offset);
}

void ShmSegment::remove() {
    if (!name_.empty() && owner_) bip::shared_memory_object::remove(name_.c_str());
    owner_ = false;
}

std::vector<std::string> remove_stale_segments() {
    std::vector<std::string> removed;
    for (const auto& name : segment_names()) {
        pid_t owner = 0;
        auto attached = ShmSegment::attach(name, ShmSegment::Access::read_only);
        if (auto* segment = std::get_if<ShmSegment>(&attached)) {
            owner = segment->header().supervisor_pid;
        } else {
            // Unreadable or of another version: trust the pid in the name.
            owner = static_cast<pid_t>(std::atoi(name.c_str() + std::char_traits<char>::length(name_prefix)));
        }
        if (!process_alive(owner) && bip::shared_memory_object::remove(name.c_str())) removed.push_back(name);
    }
    return removed;
}

std::vector<std::string> live_segments() {
    std::vector<std::string> live;
    for (const auto& name : segment_names()) {
        auto attached = ShmSegment::attach(name, ShmSegment::Access::read_only);
        if (auto* segment = std::get_if<ShmSegment>(&attached)) {
            if (process_alive(segment->header().supervisor_pid)) live.push_back(name);
        }
    }
    return live;
}

}  // namespace clusterd
