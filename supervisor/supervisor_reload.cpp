// Rolling reload (SIGHUP, `clusterd reload`): the configuration is parsed
// again (the command line, CLUSTERD_* variables and the --config file) and
// checked; an invalid one is refused and nothing changes. A valid one gets a
// new config generation, and HTTP workers are replaced one slot at a time:
// each successor starts in a spare slot and is ready before its predecessor
// stops accepting and drains (supervisor_replace.cpp). The listening socket
// stays open throughout, so the kernel's accept queue never lacks a reader.
// A changed --workers takes effect: surplus workers drain, missing ones start.
//
// What cannot change without a restart (or a binary upgrade) is refused with
// a reason: the listening address and the shape of the shared segment
// (--compute mode, --compute-processes, --compute-queue, more workers than
// its slots hold). Compute processes keep running across a reload.
#include <spdlog/spdlog.h>

#include "supervisor/supervisor.hpp"

namespace clusterd::supervisor {
namespace {

// Why `next` cannot replace `now` in a running cluster; empty if it can.
std::string unchangeable(const Config& now, const Config& next, unsigned http_slots) {
    if (next.listen.host != now.listen.host || next.listen.port != now.listen.port) {
        return "--listen cannot change on reload (use a binary upgrade or a restart)";
    }
    if (next.compute != now.compute || next.compute_processes != now.compute_processes ||
        (now.compute == ComputeMode::processes && next.compute_queue != now.compute_queue)) {
        return "--compute, --compute-processes and (with processes) --compute-queue size the shared memory "
               "and cannot change on reload";
    }
    if (next.model != now.model) return "--model cannot change on reload (restart to change it)";
    if (now.model == ServingModel::threads && next.workers != now.workers) {
        return "with --model=threads, --workers sizes the worker process's event loops and cannot change on "
               "reload (restart to change it)";
    }
    if (next.workers + 1 > http_slots) {
        return "--workers " + std::to_string(next.workers) + " needs more slots than this instance has (" +
               std::to_string(http_slots - 1) + " workers at most; restart to grow further)";
    }
    return "";
}

std::vector<const char*> argv_of(const std::vector<std::string>& args) {
    std::vector<const char*> argv{"clusterd"};
    for (const auto& arg : args) argv.push_back(arg.c_str());
    return argv;
}

}  // namespace

void Supervisor::begin_reload() {
    if (phase_ != Phase::running) {
        spdlog::warn("reload ignored: the cluster is stopping");
        return;
    }
    if (reloading_) {
        spdlog::info("a reload is in progress; another one follows it");
        reload_again_ = true;
        return;
    }
    const auto argv = argv_of(config_.args);
    auto parsed = parse_config(static_cast<int>(argv.size()), argv.data());
    if (auto* refused = std::get_if<ExitRequest>(&parsed)) {
        // The parser's first line says what is wrong; the rest is a pointer to --help.
        std::string why = refused->text.substr(0, refused->text.find('\n'));
        spdlog::error("reload refused, the workers keep the configuration they have: {}", why);
        last_problem_ = "reload refused: " + why;
        segment_.header().stats.reloads_refused.fetch_add(1, std::memory_order_relaxed);
        notify_status();
        return;
    }
    Config next = std::get<Config>(std::move(parsed));
    if (auto why = unchangeable(config_, next, segment_.http_slots()); !why.empty()) {
        spdlog::error("reload refused, the workers keep the configuration they have: {}", why);
        last_problem_ = "reload refused: " + why;
        segment_.header().stats.reloads_refused.fetch_add(1, std::memory_order_relaxed);
        notify_status();
        return;
    }
    spdlog::info("reloading: configuration generation {}, {} → {} workers, replaced one at a time",
                 config_generation_ + 1, config_.workers, next.workers);
    next.role = config_.role;
    config_ = std::move(next);
    policy_ = restart_policy_of(config_);
    config_generation_ += 1;
    segment_.header().workers = config_.workers;
    reloading_ = true;
    notifier_.reloading();
    notify_status();
    continue_reload();
}

// Called again after every readiness and exit while reloading: takes the next step.
void Supervisor::continue_reload() {
    if (!reloading_ || phase_ != Phase::running) return;
    std::vector<unsigned> serving;
    for (const auto& slot : slots_) {
        if (slot.role != SlotRole::http) continue;
        if (slot.replaces) return;  // one replacement at a time: wait for it
        if (slot.state != SlotState::empty && !slot.retiring) serving.push_back(slot.index);
    }
    // Surplus first (--workers went down): the oldest configuration leaves.
    for (auto it = serving.begin(); serving.size() > wanted_processes() && it != serving.end();) {
        if (slots_[*it].config_generation != config_generation_) {
            retire_worker(*it, "fewer workers configured");
            it = serving.erase(it);
        } else {
            ++it;
        }
    }
    while (serving.size() > wanted_processes()) {
        retire_worker(serving.back(), "fewer workers configured");
        serving.pop_back();
    }
    if (serving.size() < wanted_processes()) {
        manage_workers();  // new slots start with the new configuration
        return;
    }
    for (unsigned index : serving) {
        const Slot& slot = slots_[index];
        if (slot.config_generation != config_generation_ && slot.state == SlotState::ready) {
            replace_worker(index, "reload");
            return;
        }
    }
    for (unsigned index : serving) {
        if (slots_[index].state != SlotState::ready || slots_[index].config_generation != config_generation_) return;
    }
    finish_reload("");
}

void Supervisor::retire_worker(unsigned index, const char* why) {
    Slot& slot = slots_[index];
    spdlog::info("worker {} (pid {}) drains and leaves: {}", index, slot.pid, why);
    slot.retiring = true;
    if (slot.state == SlotState::starting || slot.state == SlotState::ready) {
        slots_.transition(index, SlotState::draining, why);
        command_worker(index, Command::drain, SIGTERM);
    } else if (slot.state == SlotState::backoff || slot.state == SlotState::failed) {
        uv_timer_stop(&slot_timers_[index].timer);
        slot.retiring = false;
        slots_.transition(index, SlotState::empty, why);
    }
}

// A successor that died before it was ready ends the reload: the workers not
// yet replaced keep serving with the configuration they have.
bool Supervisor::abandon_failed_successor(unsigned index) {
    Slot& slot = slots_[index];
    if (!reloading_ || !slot.replaces) return false;
    slots_[*slot.replaces].successor.reset();
    slot.replaces.reset();
    slots_.transition(index, SlotState::empty, "reload abandoned");
    finish_reload("worker " + std::to_string(index) + " of the new configuration died before it was ready");
    return true;
}

void Supervisor::finish_reload(const std::string& failure) {
    reloading_ = false;
    auto& stats = segment_.header().stats;
    if (failure.empty()) {
        spdlog::info("reload complete: {} workers on configuration generation {}", config_.workers,
                     config_generation_);
        stats.reloads_completed.fetch_add(1, std::memory_order_relaxed);
    } else {
        spdlog::error("reload failed: {}; the workers not yet replaced keep serving", failure);
        last_problem_ = "reload failed: " + failure;
        stats.reloads_failed.fetch_add(1, std::memory_order_relaxed);
    }
    notifier_.ready();
    notify_status();
    if (reload_again_) {
        reload_again_ = false;
        begin_reload();
    }
}

}  // namespace clusterd::supervisor
