// The supervisor's side of systemd's notify protocol (sd_notify.hpp):
// READY=1 once every worker is ready, STATUS= whenever the one-line summary
// changes, STOPPING=1 when a stop begins, and WATCHDOG=1 at half of
// $WATCHDOG_USEC, sent only while the supervisor's own view of the cluster is
// current. The ping then means more than "the supervisor's pid runs": its loop
// turns, and no worker is past its hang timeout without being dealt with, so
// systemd's watchdog covers the whole cluster.
#include <spdlog/spdlog.h>

#include "common/monotonic.hpp"
#include "supervisor/supervisor.hpp"
#include "supervisor/watchdog.hpp"

namespace clusterd::supervisor {

void Supervisor::start_systemd_watchdog() {
    const auto interval = watchdog_interval();
    if (!interval || !notifier_.enabled()) return;
    const auto half_ms = std::max<std::int64_t>(1, interval->count() / 2000);
    spdlog::info("systemd watchdog: {} ms; pinging every {} ms while the cluster view is current",
                 interval->count() / 1000, half_ms);
    uv_timer_start(&systemd_ping_, on_systemd_ping, static_cast<std::uint64_t>(half_ms),
                   static_cast<std::uint64_t>(half_ms));
}

void Supervisor::on_systemd_ping(uv_timer_t* timer) {
    auto* self = static_cast<Supervisor*>(timer->data);
    if (self->cluster_view_is_current(monotonic_ms())) {
        self->notifier_.watchdog();
    } else {
        spdlog::error("systemd watchdog: not pinging: a worker is past its hang timeout and nothing was done");
    }
}

// False when some process is hung by the watchdog's own rule and has not
// been sent its kill: check_heartbeats should have acted, and did not.
bool Supervisor::cluster_view_is_current(std::int64_t now_ms) const {
    if (config_.hang_timeout.count() == 0) return true;
    // The watchdog timer runs every quarter timeout: allow it one period of lag.
    const Millis allowance = config_.hang_timeout + config_.hang_timeout / 4;
    for (unsigned i = 0; i < slots_.size(); ++i) {
        const Slot& slot = slots_[i];
        if (processes_[i] == nullptr || slot.kill_reason != nullptr || slot.state != SlotState::ready) continue;
        if (!is_http(i)) continue;  // compute processes are bounded by job deadlines instead
        for (unsigned l = 0; l < loops_of(i); ++l) {
            if (judge_heartbeat(read_heartbeat(i + l, slot.generation), now_ms, allowance).kind ==
                HangVerdict::Kind::hung) {
                return false;
            }
        }
    }
    return true;
}

// --enable-fault-injection may come from the command line, CLUSTERD_* or a
// config file someone forgot about; it lets any client kill workers, so it
// is said loudly wherever an operator looks: here, STATUS= and /status.
void Supervisor::warn_if_fault_injection() const {
    if (!config_.fault_injection) return;
    spdlog::warn("FAULT INJECTION ENABLED (--enable-fault-injection, CLUSTERD_ENABLE_FAULT_INJECTION or the config "
                 "file): any client can crash, hang or scribble on workers through /debug/crash; never in production");
}

void Supervisor::notify_status() {
    if (!notifier_.enabled()) return;
    StatusSummary summary;
    summary.activity = phase_ == Phase::running ? "" : "stopping";
    summary.total = rotation_.wanted() * loops_;
    for (unsigned i = 0; i < slots_.size(); ++i) {
        const Slot& slot = slots_[i];
        summary.restarts += segment_.slot(i).restarts.load(std::memory_order_relaxed);
        if (!is_http(i)) continue;
        if (slot.state == SlotState::ready && !rotation_.retiring(i)) summary.ready += loops_;
        if (slot.state == SlotState::failed) summary.breaker_open.push_back(i);
    }
    summary.breaker_deaths = config_.breaker_deaths;
    summary.breaker_window = config_.breaker_window;
    summary.last_problem = last_problem_;
    summary.fault_injection = config_.fault_injection;
    std::string line = format_status_line(summary);
    if (line == last_status_) return;
    last_status_ = std::move(line);
    notifier_.status(last_status_);
}

}  // namespace clusterd::supervisor
