// The Supervisor's side of slot rotation (rotation.hpp): it tells the
// rotation what happened and carries out what it answers. The decisions
// (who replaces whom, when a reload is complete, what is queued) are all
// the rotation's; here are only the verbs: spawn, drain, kill, load the
// configuration, start the upgrade, report.
//
// Loading the configuration on reload: the command line the daemon was
// started with, its CLUSTERD_* environment and the --config file are parsed
// again and checked (reload_check.hpp); a refused one changes nothing. An
// accepted one becomes config_, and what the supervisor derived from the
// old one is derived again (apply_reloaded); workers get it by being
// replaced, one slot at a time.
#include <spdlog/spdlog.h>

#include <csignal>

#include "supervisor/reload_check.hpp"
#include "supervisor/supervisor.hpp"

namespace clusterd::supervisor {
namespace {

std::vector<const char*> argv_of(const std::vector<std::string>& args) {
    std::vector<const char*> argv{"clusterd"};
    for (const auto& arg : args) argv.push_back(arg.c_str());
    return argv;
}

// Actions that start another step of the rotation: carried out after the
// rest of their batch, whose slot choices were made before them.
bool starts_a_step(RotationAction::Kind kind) {
    return kind == RotationAction::Kind::load_configuration || kind == RotationAction::Kind::start_upgrade;
}

}  // namespace

std::vector<SlotView> Supervisor::slot_views() const {
    std::vector<SlotView> views(slots_.size());
    for (unsigned i = 0; i < slots_.size(); ++i) views[i] = {slots_[i].state, slots_[i].config_generation};
    return views;
}

void Supervisor::rotate(const RotationEvent& event) {
    const auto actions = rotation_.on(event, slot_views());
    for (const auto& action : actions) {
        if (!starts_a_step(action.kind)) carry_out(action);
    }
    for (const auto& action : actions) {
        if (starts_a_step(action.kind)) carry_out(action);
    }
}

void Supervisor::carry_out(const RotationAction& action) {
    const unsigned index = action.slot;
    Slot& slot = slots_[index];
    switch (action.kind) {
        case RotationAction::Kind::spawn:
            if (slot.state != SlotState::empty) return;  // taken meanwhile: the next tick decides again
            if (!action.why.empty() && action.why != "a worker is missing") {
                spdlog::info("worker {} starts: {}", index, action.why);
            }
            spawn_worker(index);
            return;
        case RotationAction::Kind::drain:
            if (slot.state != SlotState::starting && slot.state != SlotState::ready) return;
            spdlog::info("{}; worker {} (pid {}) drains and leaves", action.why, index, slot.pid);
            slots_.transition(index, SlotState::draining, action.why);
            command_worker(index, Command::drain, SIGTERM);
            return;
        case RotationAction::Kind::discard:
            if (slot.state != SlotState::backoff && slot.state != SlotState::failed) return;
            uv_timer_stop(&slot_timers_[index].timer);
            slots_.transition(index, SlotState::empty, action.why);
            return;
        case RotationAction::Kind::release:
            if (!action.why.empty()) spdlog::info("worker {}: {}", index, action.why);
            slots_.transition(index, SlotState::empty, action.why.empty() ? "left" : action.why);
            finish_if_stopped();
            return;
        case RotationAction::Kind::restart:
            if (!slot.replacing_since) slot.replacing_since = std::chrono::steady_clock::now();
            handle_death(index, slot.last_exit);
            return;
        case RotationAction::Kind::kill:
            end_overdue_drain(index);
            return;
        case RotationAction::Kind::load_configuration:
            promote_queued(true);
            load_configuration();
            return;
        case RotationAction::Kind::start_upgrade:
            promote_queued(false);
            start_upgrade();
            return;
        case RotationAction::Kind::hand_over:
            hand_over();
            return;
        case RotationAction::Kind::report:
            report(action.outcome, action.why);
            return;
    }
}

void Supervisor::load_configuration() {
    const auto argv = argv_of(config_.args);
    auto parsed = parse_config(static_cast<int>(argv.size()), argv.data());
    if (auto* refused = std::get_if<ExitRequest>(&parsed)) {
        // The parser's first line says what is wrong; the rest is a pointer to --help.
        std::string why = refused->text.substr(0, refused->text.find('\n'));
        if (why.starts_with("clusterd: ")) why.erase(0, 10);
        rotate(rotation_event::ConfigurationRefused{why});
        return;
    }
    Config next = std::get<Config>(std::move(parsed));
    if (auto why = reload_refusal(config_, next, segment_.http_slots()); !why.empty()) {
        rotate(rotation_event::ConfigurationRefused{why});
        return;
    }
    spdlog::info("reloading: configuration generation {}, {} → {} workers, replaced one at a time",
                 rotation_.generation() + 1, config_.workers, next.workers);
    next.role = config_.role;
    const bool fault_injection_was_on = config_.fault_injection;
    config_ = std::move(next);
    apply_reloaded();
    if (!fault_injection_was_on) warn_if_fault_injection();
    notifier_.reloading();
    notify_status();
    rotate(rotation_event::ConfigurationAccepted{config_.workers / loops_});
}

// Everything the supervisor derived from the configuration, derived again:
// a reload that turns --hang-timeout on must turn the watchdog on.
void Supervisor::apply_reloaded() {
    policy_ = restart_policy_of(config_);
    segment_.header().workers = config_.workers;
    spdlog::set_level(config_.log_level);
    arm_watchdog();
    if (admin_) admin_->replace(config_.accepted, admin_policy());
}

void Supervisor::report(Outcome outcome, const std::string& why) {
    switch (outcome) {
        case Outcome::reload_queued:
        case Outcome::upgrade_queued:
        case Outcome::scaled:
            spdlog::info("{}: {}", to_string(outcome), why);
            break;
        case Outcome::reload_complete:
            spdlog::info("reload complete: {}", why);
            segment_.header().stats.reloads_completed.fetch_add(1, std::memory_order_relaxed);
            notifier_.ready();
            break;
        case Outcome::reload_refused:
            spdlog::error("reload refused, the workers keep the configuration they have: {}", why);
            last_problem_ = "reload refused: " + why;
            segment_.header().stats.reloads_refused.fetch_add(1, std::memory_order_relaxed);
            break;
        case Outcome::reload_failed:
            spdlog::error("reload failed: {}", why);
            last_problem_ = "reload failed: " + why;
            segment_.header().stats.reloads_failed.fetch_add(1, std::memory_order_relaxed);
            if (phase_ == Phase::running) notifier_.ready();
            break;
        case Outcome::upgrade_complete:
            spdlog::info("binary upgrade complete: {}", why);
            break;
        case Outcome::upgrade_failed:
            spdlog::error("binary upgrade failed: {}; this cluster keeps serving", why);
            last_problem_ = "binary upgrade failed: " + why;
            break;
        case Outcome::note:
            spdlog::warn("{}", why);
            break;
    }
    notify_status();
    answer_control(outcome, why);
}

// A reconcile now and then: whatever event was lost or came too early (a
// spare not yet free), the difference between wanted and actual is repaired.
void Supervisor::on_reconcile(uv_timer_t* timer) {
    auto* self = static_cast<Supervisor*>(timer->data);
    if (self->phase_ != Phase::running) return;
    self->rotate(rotation_event::Tick{});
    self->manage_compute();
    self->sample_process_usage();
}

}  // namespace clusterd::supervisor
