// The supervisor's side of the scoreboard: mirroring each slot's state and
// the cluster's counters into it, reading workers' heartbeats back (the
// watchdog), and turning a dead worker's last request into words.
#include <spdlog/spdlog.h>

#include <csignal>

#include "common/monotonic.hpp"
#include "common/scoreboard_snapshot.hpp"
#include "supervisor/supervisor.hpp"
#include "supervisor/watchdog.hpp"

namespace clusterd::supervisor {
namespace {

const char* recycle_reason(std::uint32_t code) {
    switch (static_cast<RecycleReason>(code)) {
        case RecycleReason::none: return nullptr;
        case RecycleReason::stuck_compute_thread: return "a compute thread is stuck past its deadline";
        case RecycleReason::max_requests: return "it served --max-requests";
    }
    return nullptr;  // garbage in the worker's half of the slot: ignored
}

}  // namespace

void Supervisor::check_recycle_request(unsigned index) {
    const Slot& slot = slots_[index];
    if (phase_ != Phase::running || slot.state != SlotState::ready || rotation_.retiring(index) ||
        rotation_.has_successor(index)) {
        return;
    }
    // Any loop of a --model=threads process may ask; the process is replaced.
    const char* why = nullptr;
    for (unsigned l = 0; l < loops_of(index) && why == nullptr; ++l) {
        const ScoreboardSlot& board = segment_.slot(index + l);
        if (board.worker_generation.load(std::memory_order_relaxed) != slot.generation) continue;
        why = recycle_reason(board.recycle_requested.load(std::memory_order_relaxed));
    }
    if (why == nullptr) return;
    segment_.header().stats.recycles.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("worker {} (pid {}) asked to be replaced: {}", index, slot.pid, why);
    rotate(rotation_event::ReplaceAsked{index, why});
}


// A --model=threads process's state is its loops' state too; the gauges
// count event loops, so they read the same in both models.
void Supervisor::publish_slot(const Slot& slot) {
    for (unsigned l = 0; l < loops_of(slot.index); ++l) {
        segment_.slot(slot.index + l).state.store(static_cast<std::uint32_t>(slot.state), std::memory_order_relaxed);
    }
    auto& stats = segment_.header().stats;
    stats.workers_ready.store(slots_.count(SlotRole::http, SlotState::ready) * loops_, std::memory_order_relaxed);
    stats.workers_failed.store(slots_.count(SlotRole::http, SlotState::failed) * loops_, std::memory_order_relaxed);
}

void Supervisor::count_death(const ExitInfo& exit) {
    auto& stats = segment_.header().stats;
    if (exit.kind == ExitInfo::Kind::signaled) stats.deaths_by_signal.fetch_add(1, std::memory_order_relaxed);
    if (exit.kind == ExitInfo::Kind::exited) stats.deaths_by_exit.fetch_add(1, std::memory_order_relaxed);
}

void Supervisor::count_restart(RestartStat stat) {
    segment_.header().stats.restarts[static_cast<std::size_t>(stat)].fetch_add(1, std::memory_order_relaxed);
}

// A worker that dies takes the connections it had with it; the count makes
// the difference between the compute executors visible: a crashing compute
// thread takes its whole worker, a crashing compute process only its job.
void Supervisor::count_lost_connections(unsigned index) {
    std::uint64_t open = 0;
    for (unsigned l = 0; l < loops_of(index); ++l) {
        const ScoreboardSlot& board = segment_.slot(index + l);
        if (board.worker_generation.load(std::memory_order_relaxed) != slots_[index].generation) continue;
        const auto on_loop = board.connections_open.load(std::memory_order_relaxed);
        if (on_loop > 10'000'000) continue;  // garbage from a scribbling worker
        open += on_loop;
    }
    if (open == 0) return;
    segment_.header().stats.connections_lost.fetch_add(open, std::memory_order_relaxed);
    spdlog::warn("worker {}: {} connection(s) were open on it and are lost{}", index, open,
                 config_.compute == ComputeMode::processes
                     ? ""
                     : " (a crash anywhere in a worker, compute threads included, takes all of them; "
                       "--compute=processes confines it to the job)");
}

// " while serving GET /x for 2.0 s", read from the dead worker's slot: the
// one thing an operator wants after a crash and no peer tells them.
// With several loops, the first one serving something speaks for the
// process, starting from the loop in slot `first` (the hung one, say).
std::string Supervisor::what_it_was_doing(unsigned index, unsigned first) const {
    if (config_.exec_mode() && is_http(index)) return last_words(index);  // a program has no scoreboard requests
    bool known = false;
    const unsigned loops = loops_of(index);
    const unsigned start = first >= index && first < index + loops ? first - index : 0;
    for (unsigned k = 0; k < loops; ++k) {
        const unsigned l = (start + k) % loops;
        const ScoreboardSlot& board = segment_.slot(index + l);
        if (board.worker_generation.load(std::memory_order_relaxed) != slots_[index].generation) continue;
        known = true;
        auto current = read_current_request(board, monotonic_ms());
        if (!current) continue;
        const std::string loop = loops_of(index) > 1 ? fmt::format(" (loop in slot {})", index + l) : "";
        return fmt::format(" while serving {} {} for {:.1f} s{}", current->method, current->target,
                           current->for_seconds, loop);
    }
    return known ? " while idle" : "";
}

HeartbeatReading Supervisor::read_heartbeat(unsigned scoreboard_slot, const Slot& process) const {
    const ScoreboardSlot& board = segment_.slot(scoreboard_slot);
    // The generation first (acquire, pairing with the worker's claim of the
    // slot): a heartbeat read after seeing our generation is that worker's
    // reset or newer, never the previous occupant's.
    const auto writer_generation = board.worker_generation.load(std::memory_order_acquire);
    const auto heartbeat = board.heartbeat_ms.load(std::memory_order_relaxed);
    // Generation and start time from private memory: a worker can write the
    // scoreboard's copies (any slot's), never these.
    return {heartbeat, writer_generation, process.generation, process.started_ms};
}

void Supervisor::on_watchdog(uv_timer_t* timer) { static_cast<Supervisor*>(timer->data)->check_heartbeats(); }

void Supervisor::check_heartbeats() {
    const auto now = monotonic_ms();
    if (config_.exec_mode()) check_exec_workers(now);
    const std::vector<bool> running_job = check_compute_deadlines(now);
    check_memory_limits();
    for (auto& slot : slots_) {
        auto* process = processes_[slot.index];
        if (process == nullptr) continue;
        if (is_http(slot.index)) check_recycle_request(slot.index);
        if (slot.kill_reason != nullptr) {
            // A SIGABRT for the core dump was sent; a worker still there a
            // second later (stopped, or ignoring it) gets SIGKILL.
            if (config_.core_on_hang && now - slot.killed_at_ms >= 1000) process->kill(SIGKILL);
            continue;
        }
        // A compute process computes without heartbeats; its job's deadline
        // bounds it instead (check_compute_deadlines).
        if (running_job[slot.index] || config_.hang_timeout.count() == 0) continue;
        // A process with several loops is as hung as its most silent loop:
        // one stuck loop is lost capacity nobody else can take over.
        HangVerdict verdict;
        unsigned silent_loop = slot.index;
        for (unsigned l = 0; l < loops_of(slot.index) && verdict.kind == HangVerdict::Kind::alive; ++l) {
            verdict = judge_heartbeat(read_heartbeat(slot.index + l, slot), now, config_.hang_timeout);
            silent_loop = slot.index + l;
        }
        if (verdict.kind == HangVerdict::Kind::alive) continue;
        slot.kill_reason = verdict.kind == HangVerdict::Kind::hung ? "hang" : "corrupt scoreboard slot";
        const std::string which =
            loops_of(slot.index) > 1
                ? fmt::format(" (its loop in slot {}; all {} loops are replaced with it)", silent_loop,
                              loops_of(slot.index))
                : "";
        spdlog::error("{} {} (pid {}) {}: {}{}{}; killing it", noun(slot.index), slot.index, slot.pid,
                      verdict.kind == HangVerdict::Kind::hung ? "hung" : "is not trustworthy", verdict.why, which,
                      what_it_was_doing(slot.index, silent_loop));
        segment_.header().stats.hang_kills.fetch_add(1, std::memory_order_relaxed);
        slot.killed_at_ms = now;
        // SIGKILL works on a SIGSTOPped process too; SIGABRT is queued until
        // it is continued, hence the SIGKILL that follows it.
        process->kill(config_.core_on_hang ? SIGABRT : SIGKILL);
        if (config_.core_on_hang) process->kill(SIGCONT);
    }
}

}  // namespace clusterd::supervisor
