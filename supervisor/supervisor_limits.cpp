// What the supervisor reads about its children from /proc (a worker cannot
// be trusted to report its own figures, and a program run with '--' reports
// none): every process's RSS and CPU time, into the scoreboard for /status,
// /metrics and `clusterd status`; and --max-worker-memory.
//
// --max-worker-memory: the supervisor reads each worker's resident set from
// /proc and replaces one that
// grew past the limit gracefully: an HTTP worker's successor starts first and
// it drains; a compute process finishes its job and exits (SIGTERM), and its
// slot is refilled. Nobody is killed mid-request for this.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

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

// User + system CPU milliseconds of pid, from /proc/<pid>/stat; 0 if it cannot be read.
std::uint64_t cpu_milliseconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The command name (field 2) is in parentheses and may hold spaces or
    // ')': the fields after the last ')' are plain numbers.
    const auto close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(text.substr(close + 1));
    std::string skip;
    for (int field = 3; field < 14; ++field) fields >> skip;  // state .. cmajflt
    std::uint64_t user = 0;
    std::uint64_t system = 0;
    if (!(fields >> user >> system)) return 0;
    static const auto ticks = static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
    return ticks > 0 ? (user + system) * 1000 / ticks : 0;
}

double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

void Supervisor::sample_process_usage() {
    for (const auto& slot : slots_) {
        if (slot.pid == 0 || slot.role == SlotRole::loop) continue;
        ScoreboardSlot& board = segment_.slot(slot.index);
        board.rss_bytes.store(resident_bytes(slot.pid), std::memory_order_relaxed);
        board.cpu_ms.store(cpu_milliseconds(slot.pid), std::memory_order_relaxed);
    }
}

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
