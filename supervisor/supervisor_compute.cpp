// What only --compute=processes needs from the supervisor: the eventfds that
// wake an HTTP worker when a result is waiting for it in the job ring, the
// repair of the ring when any process dies (a job is never left claimed by a
// dead process), killing a compute process stuck past a job's deadline, and
// stopping the compute processes last, once no HTTP worker can wait on them.
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>

#include "common/monotonic.hpp"
#include "supervisor/supervisor.hpp"

namespace clusterd::supervisor {

void Supervisor::create_result_wakeups() {
    if (!jobs_) return;
    // One per HTTP slot, created once and kept for the supervisor's life: a
    // slot's successive workers share it (a stale count only costs one empty
    // collect), and every compute process inherits all of them.
    for (unsigned i = 0; i < segment_.http_slots(); ++i) {
        UniqueFd fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        if (!fd) {
            spdlog::critical("eventfd() failed while preparing the job ring's wake-ups: {}", std::strerror(errno));
            std::exit(1);
        }
        result_wakeups_.push_back(std::move(fd));
    }
}

void Supervisor::wake_requester(unsigned http_slot) {
    if (http_slot >= result_wakeups_.size()) return;
    const std::uint64_t one = 1;
    // EAGAIN: the counter is saturated, a wake-up is pending anyway.
    (void)!::write(result_wakeups_[http_slot].get(), &one, sizeof one);
}

void Supervisor::repair_job_ring(unsigned index, std::uint64_t generation) {
    if (!jobs_) return;
    if (is_http(index)) {
        // Its queued jobs are dropped, its finished results freed, and a job
        // still running for it is marked so the compute process frees it.
        std::size_t released = 0;
        for (unsigned l = 0; l < loops_of(index); ++l) released += jobs_->release_requester(index + l, generation);
        if (released > 0) spdlog::info("worker {}: released {} jobs it had in the job ring", index, released);
        return;
    }
    const auto requesters = jobs_->release_consumer(index);
    if (requesters.empty()) return;
    auto& stats = segment_.header().stats;
    stats.compute_jobs_lost.fetch_add(requesters.size(), std::memory_order_relaxed);
    spdlog::warn("compute process {}: {} job(s) it was running fail with 502; nothing else is lost", index,
                 requesters.size());
    for (const JobRequester& requester : requesters) wake_requester(requester.slot);
}

namespace {

// Whether /proc says the process is stopped (SIGSTOP, or a tracer): a
// compute process does not heartbeat during a job, so this is how a stopped
// one is told from a busy one before the job's deadline.
bool process_stopped(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    std::getline(stat, text);
    const auto close = text.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos || close + 2 >= text.size()) return false;
    const char state = text[close + 2];
    return state == 'T' || state == 't';
}

}  // namespace

std::vector<bool> Supervisor::check_compute_deadlines(std::int64_t now_ms) {
    std::vector<bool> busy(slots_.size(), false);
    if (!jobs_) return busy;
    // Records a scribbling process left in an impossible state would never be
    // released by anyone: free them.
    if (const auto reclaimed = jobs_->reclaim_corrupt(slots_.size()); reclaimed > 0) {
        spdlog::error("job ring: freed {} record(s) in an impossible state (a process wrote garbage)", reclaimed);
    }
    jobs_->for_each_running([&](const RunningJob& job) {
        if (job.consumer_slot >= slots_.size() || is_http(job.consumer_slot)) return;
        busy[job.consumer_slot] = true;
        Slot& slot = slots_[job.consumer_slot];
        auto* process = processes_[job.consumer_slot];
        if (process == nullptr || slot.kill_reason != nullptr) return;
        if (config_.hang_timeout.count() > 0 && process_stopped(slot.pid)) {
            if (slot.stopped_since_ms == 0) slot.stopped_since_ms = now_ms;
            if (now_ms - slot.stopped_since_ms >= config_.hang_timeout.count()) {
                segment_.header().stats.hang_kills.fetch_add(1, std::memory_order_relaxed);
                kill_compute_process(slot, "stopped during a job",
                                     fmt::format("stopped for {:.1f} s in the middle of a job",
                                                 static_cast<double>(now_ms - slot.stopped_since_ms) / 1000.0));
            }
            return;
        }
        slot.stopped_since_ms = 0;
        if (now_ms <= job.deadline_ms) return;
        // Its client got a 504 at the deadline; the process is still on the
        // job and would hold a core for nobody. Replace it.
        segment_.header().stats.compute_stuck_kills.fetch_add(1, std::memory_order_relaxed);
        kill_compute_process(slot, "stuck on a job past its deadline",
                             fmt::format("still running a job {:.1f} s after its deadline",
                                         static_cast<double>(now_ms - job.deadline_ms) / 1000.0));
    });
    return busy;
}

// SIGKILL; the reaper then releases its job (502) and the slot is refilled.
void Supervisor::kill_compute_process(Slot& slot, const char* reason, const std::string& what) {
    slot.kill_reason = reason;
    slot.killed_at_ms = monotonic_ms();
    spdlog::error("compute process {} (pid {}) {}{}; killing it", slot.index, slot.pid, what,
                  what_it_was_doing(slot.index));
    if (auto* process = processes_[slot.index]) process->kill(SIGKILL);
}

void Supervisor::drain_compute_when_http_gone() {
    if (compute_draining_ || phase_ == Phase::running) return;
    for (const auto& slot : slots_) {
        if (slot.role == SlotRole::http && slot.state != SlotState::empty) return;
    }
    compute_draining_ = true;
    for (auto& slot : slots_) {
        if (slot.role != SlotRole::compute) continue;
        uv_timer_stop(&slot_timers_[slot.index].timer);
        switch (slot.state) {
            case SlotState::starting:
            case SlotState::ready:
                slots_.transition(slot.index, SlotState::draining, "every HTTP worker is gone");
                // A compute process has no event loop to read commands with:
                // SIGTERM makes it finish the job in hand and exit.
                if (auto* process = processes_[slot.index]) process->kill(SIGTERM);
                break;
            case SlotState::backoff:
            case SlotState::failed:
                slots_.transition(slot.index, SlotState::empty, "stopping");
                break;
            case SlotState::empty:
            case SlotState::draining:
            case SlotState::exited:
                break;
        }
    }
}

}  // namespace clusterd::supervisor
