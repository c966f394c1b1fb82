// The old supervisor's side of a binary upgrade (upgrade.hpp): start the new
// binary on our socket, wait for it to be ready, then hand over: tell systemd
// the new main pid, drain our workers and exit. If the new one fails first,
// nothing changes here.
#include <spdlog/spdlog.h>

#include <csignal>

#include "supervisor/supervisor.hpp"

namespace clusterd::supervisor {
namespace {

// How long a new binary may take to have its whole cluster ready.
constexpr std::uint64_t upgrade_timeout_ms = 30'000;

}  // namespace

void Supervisor::start_upgrade() {
    UpgradeRequest request{executable_, config_.args, listen_fds(), admin_ ? admin_->socket_fd() : -1,
                           notifier_.socket()};
    UpgradeProcess::Events events{[this] { on_upgrade_ready(); },
                                  [this](std::string how) { on_upgrade_failed(std::move(how)); }};
    auto spawned = UpgradeProcess::spawn(&loop_, request, std::move(events));
    if (auto* error = std::get_if<int>(&spawned)) {
        rotate(rotation_event::UpgradeFailed{"cannot start " + executable_ + ": " + uv_strerror(*error)});
        return;
    }
    upgrade_ = std::get<UpgradeProcess*>(spawned);
    spdlog::info("binary upgrade: started {} as pid {}; this cluster serves until the new one is ready",
                 executable_, upgrade_->pid());
    uv_timer_start(&upgrade_deadline_, on_upgrade_deadline, upgrade_timeout_ms, 0);
}

void Supervisor::on_upgrade_deadline(uv_timer_t* timer) {
    auto* self = static_cast<Supervisor*>(timer->data);
    if (self->upgrade_ == nullptr) return;
    spdlog::error("binary upgrade: the new supervisor (pid {}) is not ready after {} s; killing it",
                  self->upgrade_->pid(), upgrade_timeout_ms / 1000);
    self->upgrade_->kill(SIGKILL);  // its workers die with it (PR_SET_PDEATHSIG)
}

void Supervisor::on_upgrade_ready() {
    const pid_t successor = upgrade_->pid();
    upgrade_->release();  // it outlives us
    upgrade_ = nullptr;
    uv_timer_stop(&upgrade_deadline_);
    spdlog::info("binary upgrade: the new supervisor (pid {}) is ready; this one drains and exits", successor);
    // The new process is the service now; without this systemd would take
    // our exit for the service's end.
    notifier_.send("MAINPID=" + std::to_string(successor));
    rotate(rotation_event::UpgradeReady{});
}

void Supervisor::hand_over() {
    handing_over_ = true;
    begin_graceful_stop("binary upgrade");
}

void Supervisor::on_upgrade_failed(std::string how) {
    const pid_t pid = upgrade_ != nullptr ? upgrade_->pid() : 0;
    upgrade_ = nullptr;
    uv_timer_stop(&upgrade_deadline_);
    rotate(rotation_event::UpgradeFailed{"the new supervisor (pid " + std::to_string(pid) + ") " + how +
                                         " before it was ready"});
}

}  // namespace clusterd::supervisor
