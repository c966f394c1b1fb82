// --max-worker-memory: the supervisor reads each worker's resident set from
// /proc (a worker cannot be trusted to report its own) and replaces one that
// grew past the limit gracefully: an HTTP worker's successor starts first and
// it drains; a compute process finishes its job and exits (SIGTERM), and its
// slot is refilled. Nobody is killed mid-request for this.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include "supervisor/supervisor.hpp"

namespace clusterd::supervisor {
namespace {

// Resident bytes of pid, from /proc/<pid>/statm; 0 if it cannot be read.
std::uint64_t resident_bytes(pid_t pid) {
    std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
    std::uint64_t size_pages = 0;
    std::uint64_t resident_pages = 0;
    if (!(statm >> size_pages >> resident_pages)) return 0;
    return resident_pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

void Supervisor::check_memory_limits() {
    if (config_.max_worker_memory == 0 || phase_ != Phase::running) return;
    for (auto& slot : slots_) {
        if (slot.state != SlotState::ready || rotation_.retiring(slot.index) || rotation_.has_successor(slot.index) ||
            slot.kill_reason != nullptr ||
            slot.over_memory_limit) {
            continue;
        }
        const std::uint64_t rss = resident_bytes(slot.pid);
        if (rss <= config_.max_worker_memory) continue;
        const std::string why = fmt::format("RSS {:.0f} MiB is above --max-worker-memory {:.0f} MiB", mib(rss),
                                            mib(config_.max_worker_memory));
        segment_.header().stats.recycles.fetch_add(1, std::memory_order_relaxed);
        if (slot.role == SlotRole::http) {
            spdlog::warn("worker {} (pid {}): {}", slot.index, slot.pid, why);
            rotate(rotation_event::ReplaceAsked{slot.index, "memory limit"});
        } else {
            spdlog::warn("compute process {} (pid {}): {}; it finishes its job and is replaced", slot.index,
                         slot.pid, why);
            slot.over_memory_limit = true;  // told once; its exit refills the slot
            if (auto* process = processes_[slot.index]) process->kill(SIGTERM);
        }
    }
}

}  // namespace clusterd::supervisor
