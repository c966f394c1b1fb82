// Exec mode (`clusterd [OPTIONS] -- COMMAND`): what differs for a worker slot
// that runs the user's program through the exec shim instead of clusterd's
// own HTTP worker. Restart policy, rotation, drain deadlines, reload and stop
// are the same code as for native workers; the program's side of them is:
//   - ready: READY=1 on either notify channel (or --ready=delay:D, on the
//     watchdog's tick once it has lived D); not ready within --start-timeout
//     (plus any EXTEND_TIMEOUT_USEC=): killed, a death before ready;
//   - heartbeat: the supervisor writes the slot's heartbeat itself, on every
//     WATCHDOG=1, so the watchdog judges a program exactly as a native loop;
//     until its first ping a program is not watched (many never ping);
//   - drain: --stop-signal instead of the command ring;
//   - its output and its last lines before a death, through the supervisor's log.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/monotonic.hpp"
#include "supervisor/supervisor.hpp"
#include "supervisor/worker_log_line.hpp"

namespace clusterd::supervisor {

namespace {

constexpr std::size_t last_lines_kept = 5;

}  // namespace

// Each worker's NOTIFY_SOCKET is an abstract unix socket ("@..."): no file
// anywhere, so nothing is left behind when the supervisor is SIGKILLed, and
// nothing in a shared directory to plant or take. Abstract names are
// visible to anyone (/proc/net/unix), which is why every datagram's sender is
// checked (SO_PASSCRED, exec_channels.cpp); and each name carries fresh
// random bits, so nobody can bind a worker's name before it exists.
std::string Supervisor::new_notify_socket_name(const Slot& slot) {
    return fmt::format("@clusterd/{}/worker-{}-{}-{:016x}", getpid(), slot.index, slot.generation, random_());
}

std::optional<ExecSpec> Supervisor::exec_spec(const Slot& slot) {
    if (!config_.exec_mode() || !is_http(slot.index)) return std::nullopt;
    ExecSpec spec;
    spec.command = config_.exec;
    spec.notify_socket = new_notify_socket_name(slot);
    // systemd's meaning: the program should ping at least this often (half of it is advised).
    spec.watchdog_usec = static_cast<std::uint64_t>(config_.hang_timeout.count()) * 1000u;
    return spec;
}

void Supervisor::begin_exec_slot(unsigned index) {
    ExecSlot& exec = exec_slots_[index];
    exec = ExecSlot{};
    exec.started_ms = monotonic_ms();
    exec.start_deadline_ms = exec.started_ms + config_.start_timeout.count();
    // The supervisor writes this slot's heartbeat for the program: claim it
    // as a native worker would (zero first, then the generation, released).
    ScoreboardSlot& board = segment_.slot(index);
    board.heartbeat_ms.store(0, std::memory_order_relaxed);
    board.worker_generation.store(slots_[index].generation, std::memory_order_release);
    board.heartbeat_ms.store(monotonic_ms(), std::memory_order_relaxed);
}

void Supervisor::on_worker_notify(unsigned index, std::uint64_t generation, const NotifyMessage& message) {
    if (!is_current(index, generation) || !config_.exec_mode()) return;
    ExecSlot& exec = exec_slots_[index];
    const Slot& slot = slots_[index];
    if (message.malformed > 0 && !exec.malformed_logged) {
        spdlog::warn("worker {} (pid {}) sent a notify line that is no VARIABLE=value; ignored (not logged again)",
                     index, slot.pid);
        exec.malformed_logged = true;
    }
    if (message.status) {
        exec.status = *message.status;
        ProgramStatus shown;  // for /status and `clusterd status`, escaped: it is the program's text
        const std::string text = escape_control_characters(exec.status);
        text.copy(shown.text, sizeof shown.text - 1);
        segment_.slot(index).program_status.write(shown);
    }
    if (message.extend_start && slot.state == SlotState::starting) {
        const auto extended = monotonic_ms() + message.extend_start->count() / 1000;
        exec.start_deadline_ms = std::max(exec.start_deadline_ms, extended);
    }
    if (message.watchdog) {
        if (!exec.pinged && config_.hang_timeout.count() > 0) {
            spdlog::info("worker {} (pid {}) sent its first WATCHDOG=1: it is killed if its pings stop for {}", index,
                         slot.pid, format_duration(config_.hang_timeout));
        }
        exec.pinged = true;
        segment_.slot(index).heartbeat_ms.store(monotonic_ms(), std::memory_order_relaxed);
    }
    if (message.watchdog_trigger && processes_[index] != nullptr && slots_[index].kill_reason == nullptr) {
        spdlog::error("worker {} (pid {}) sent WATCHDOG=trigger: treated as hung; killing it", index, slot.pid);
        slots_[index].kill_reason = "hang";
        processes_[index]->kill(SIGKILL);
    }
    if (message.stopping) spdlog::info("worker {} (pid {}) says it is stopping", index, slot.pid);
    if (message.ready && config_.ready_delay.count() == 0) on_worker_ready(index, generation);
}

void Supervisor::on_worker_output(unsigned index, std::uint64_t generation, OutputStream stream,
                                  std::string_view line, bool cut) {
    if (!is_current(index, generation)) return;
    worker_logs_.program_line(index, slots_[index].pid, stream == OutputStream::stderr_stream, line, cut);
    auto& last = exec_slots_[index].last_lines;
    last.emplace_back(line.substr(0, 200));
    if (last.size() > last_lines_kept) last.pop_front();
}

void Supervisor::check_exec_workers(std::int64_t now_ms) {
    for (unsigned index = 0; index < segment_.http_slots(); ++index) {
        const Slot& slot = slots_[index];
        WorkerProcess* process = processes_[index];
        if (process == nullptr) continue;
        ExecSlot& exec = exec_slots_[index];
        // Not watched until it pings: keep its heartbeat fresh for it.
        if (!exec.pinged) segment_.slot(index).heartbeat_ms.store(now_ms, std::memory_order_relaxed);
        if (slot.state != SlotState::starting || slot.kill_reason != nullptr) continue;
        const auto lived_ms = now_ms - exec.started_ms;
        if (config_.ready_delay.count() > 0 && lived_ms >= config_.ready_delay.count()) {
            on_worker_ready(index, slot.generation);
            continue;
        }
        if (now_ms < exec.start_deadline_ms) continue;
        spdlog::error("worker {} (pid {}) is not ready {} after it started (--start-timeout{}); killing it", index,
                      slot.pid, format_duration(Millis{lived_ms}),
                      config_.ready_delay.count() > 0 ? "" : ": it never sent READY=1");
        slots_[index].kill_reason = "start timeout";
        slots_[index].killed_at_ms = now_ms;
        process->kill(SIGKILL);
    }
}

std::string Supervisor::last_words(unsigned index) const {
    const auto& last = exec_slots_[index].last_lines;
    if (last.empty()) return "";
    std::string text = "; its last output: ";
    for (std::size_t i = 0; i < last.size(); ++i) {
        text += (i == 0 ? "\"" : " | \"") + escape_control_characters(last[i]) + "\"";
    }
    return text;
}

}  // namespace clusterd::supervisor
