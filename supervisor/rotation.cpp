#include "supervisor/rotation.hpp"

#include <algorithm>

namespace clusterd::supervisor {
namespace {

using Kind = RotationAction::Kind;
using S = SlotState;

bool occupied(S state) { return state != S::empty; }

// The rank of a surplus slot: the lower, the sooner it leaves. A slot with
// no worker up costs nothing to drop; a ready one is capacity.
int leave_rank(const SlotView& view) {
    switch (view.state) {
        case S::backoff:
        case S::failed: return 0;
        case S::exited:
        case S::starting: return 1;
        case S::ready: return 2;
        case S::empty:
        case S::draining: return 3;
    }
    return 3;
}

}  // namespace

const char* to_string(Rotation::Phase phase) {
    switch (phase) {
        case Rotation::Phase::idle: return "idle";
        case Rotation::Phase::loading: return "loading";
        case Rotation::Phase::reloading: return "reloading";
        case Rotation::Phase::upgrading: return "upgrading";
        case Rotation::Phase::stopping: return "stopping";
    }
    return "invalid";
}

const char* to_string(Outcome outcome) {
    switch (outcome) {
        case Outcome::reload_queued: return "reload queued";
        case Outcome::reload_complete: return "reload complete";
        case Outcome::reload_refused: return "reload refused";
        case Outcome::reload_failed: return "reload failed";
        case Outcome::upgrade_queued: return "upgrade queued";
        case Outcome::upgrade_complete: return "upgrade complete";
        case Outcome::upgrade_failed: return "upgrade failed";
        case Outcome::scaled: return "scaled";
        case Outcome::note: return "note";
    }
    return "invalid";
}

void Rotation::Step::act(Kind kind, unsigned slot, std::string why) {
    actions.push_back({kind, slot, Outcome::note, std::move(why)});
    switch (kind) {
        case Kind::spawn:
        case Kind::spawn_spare: slots[slot] = {S::starting, generation}; break;
        case Kind::drain: slots[slot].state = S::draining; break;
        case Kind::discard:
        case Kind::release: slots[slot].state = S::empty; break;
        case Kind::promote:
        case Kind::restart:
        case Kind::restart_as_spare:
        case Kind::kill:
        case Kind::load_configuration:
        case Kind::start_upgrade:
        case Kind::hand_over:
        case Kind::report: break;
    }
}

Rotation::Rotation(std::vector<unsigned> process_slots, unsigned slot_count)
    : process_slots_(std::move(process_slots)), duties_(slot_count) {}

std::vector<RotationAction> Rotation::on(const RotationEvent& event, const std::vector<SlotView>& slots) {
    Step step{slots, generation_, {}};
    step.slots.resize(duties_.size());
    std::visit([&](const auto& e) { on_event(e, step); }, event);
    return std::move(step.actions);
}

bool Rotation::has_successor(unsigned slot) const {
    return std::any_of(duties_.begin(), duties_.end(), [&](const Duty& duty) { return duty.replaces == slot; });
}

bool Rotation::successor_in_flight() const {
    return std::any_of(duties_.begin(), duties_.end(), [](const Duty& duty) { return duty.replaces.has_value(); });
}

bool Rotation::serving(unsigned slot, const Step& step) const {
    const Duty& duty = duties_[slot];
    return occupied(step.slots[slot].state) && step.slots[slot].state != S::draining && !duty.retiring &&
           !duty.replaces && !duty.spare;
}

std::vector<unsigned> Rotation::spare_slots(const Step& step) const {
    std::vector<unsigned> out;
    for (unsigned slot : process_slots_) {
        const Duty& duty = duties_[slot];
        const S state = step.slots[slot].state;
        if (duty.spare && !duty.retiring && occupied(state) && state != S::draining) out.push_back(slot);
    }
    return out;
}

// A spare that can take over now, of the current configuration if there is one.
std::optional<unsigned> Rotation::ready_spare(const Step& step) const {
    std::optional<unsigned> older;
    for (unsigned slot : spare_slots(step)) {
        if (step.slots[slot].state != S::ready) continue;
        if (step.slots[slot].config_generation == generation_) return slot;
        if (!older) older = slot;
    }
    return older;
}

void Rotation::promote(unsigned spare, const std::string& why, Step& step) {
    duties_[spare].spare = false;
    step.act(Kind::promote, spare, why);
}

std::vector<unsigned> Rotation::serving_slots(const Step& step) const {
    std::vector<unsigned> out;
    for (unsigned slot : process_slots_) {
        if (serving(slot, step)) out.push_back(slot);
    }
    return out;
}

std::optional<unsigned> Rotation::free_slot(const Step& step) const {
    for (unsigned slot : process_slots_) {
        if (step.slots[slot].state == S::empty && !duties_[slot].replaces && !duties_[slot].retiring) return slot;
    }
    return std::nullopt;
}

void Rotation::on_event(const rotation_event::Start& event, Step& step) {
    wanted_ = event.wanted;
    spares_ = event.spares;
    reconcile(step);
}

void Rotation::on_event(const rotation_event::ReloadAsked&, Step& step) {
    switch (phase_) {
        case Phase::idle:
            phase_ = Phase::loading;
            step.act(Kind::load_configuration, 0);
            return;
        case Phase::loading:
        case Phase::reloading:
        case Phase::upgrading:
            reload_queued_ = true;
            step.report(Outcome::reload_queued, std::string("a ") + (phase_ == Phase::upgrading ? "binary upgrade" : "reload") +
                                                    " is in progress; this reload runs after it");
            return;
        case Phase::stopping:
            step.report(Outcome::reload_refused, "the cluster is stopping");
            return;
    }
}

void Rotation::on_event(const rotation_event::ConfigurationAccepted& event, Step& step) {
    if (phase_ != Phase::loading) return;
    phase_ = Phase::reloading;
    generation_ += 1;
    step.generation = generation_;
    wanted_ = event.wanted;
    spares_ = event.spares;
    reconcile(step);
}

void Rotation::on_event(const rotation_event::ConfigurationRefused& event, Step& step) {
    if (phase_ != Phase::loading) return;
    phase_ = Phase::idle;
    step.report(Outcome::reload_refused, event.why);
    finish_phase(step);
}

void Rotation::on_event(const rotation_event::ScaleAsked& event, Step& step) {
    if (phase_ == Phase::stopping) {
        step.report(Outcome::note, "scale ignored: the cluster is stopping");
        return;
    }
    wanted_ = event.wanted;
    scale_pending_ = true;
    reconcile(step);
}

void Rotation::on_event(const rotation_event::ReplaceAsked& event, Step& step) {
    if (phase_ == Phase::stopping || !serving(event.slot, step) || step.slots[event.slot].state != S::ready ||
        has_successor(event.slot)) {
        return;
    }
    if (const auto spare = ready_spare(step)) {
        // The spare serves at once; the replaced worker drains, and a new spare starts in a free slot.
        promote(*spare, "replaces worker " + std::to_string(event.slot) + ": " + event.why, step);
        retire(event.slot, "hot spare " + std::to_string(*spare) + " took its place (" + event.why + ")", step);
        reconcile(step);
        return;
    }
    (void)start_successor(event.slot, event.why, step);
}

void Rotation::on_event(const rotation_event::Ready& event, Step& step) {
    Duty& duty = duties_[event.slot];
    if (duty.replaces) {
        const unsigned old = *duty.replaces;
        duty.replaces.reset();
        const S state = step.slots[old].state;
        if (state == S::starting || state == S::ready) retire(old, "worker " + std::to_string(event.slot) + " is ready", step);
    }
    reconcile(step);
}

void Rotation::on_event(const rotation_event::Exited& event, Step& step) {
    Duty& duty = duties_[event.slot];
    if (phase_ == Phase::stopping || duty.retiring) {
        duty = {};
        step.act(Kind::release, event.slot);
    } else if (has_successor(event.slot)) {
        for (Duty& other : duties_) {
            if (other.replaces == event.slot) other.replaces.reset();  // it takes this one's place
        }
        step.act(Kind::release, event.slot, "its successor is already starting and takes its place");
    } else if (duty.replaces && phase_ == Phase::reloading) {
        duty = {};
        step.act(Kind::release, event.slot);
        phase_ = Phase::idle;
        step.report(Outcome::reload_failed, "worker " + std::to_string(event.slot) +
                                                 " of the new configuration died before it was ready; the workers "
                                                 "not yet replaced keep serving");
        finish_phase(step);
    } else if (const auto spare = serving(event.slot, step) ? ready_spare(step) : std::nullopt) {
        // A serving worker died: the ready spare takes its place now, and the
        // dead slot, restarted by the policy (backoff, breaker), is the next spare.
        promote(*spare, "worker " + std::to_string(event.slot) + " died", step);
        duty.spare = true;
        step.act(Kind::restart_as_spare, event.slot);
    } else {
        step.act(Kind::restart, event.slot);  // a spare that died, too: nothing else moves
    }
    reconcile(step);
}

void Rotation::on_event(const rotation_event::DrainDeadline& event, Step& step) {
    if (step.slots[event.slot].state == S::draining) step.act(Kind::kill, event.slot, "drain deadline");
}

void Rotation::on_event(const rotation_event::UpgradeAsked&, Step& step) {
    switch (phase_) {
        case Phase::idle:
            phase_ = Phase::upgrading;
            step.act(Kind::start_upgrade, 0);
            return;
        case Phase::loading:
        case Phase::reloading:
            upgrade_queued_ = true;
            step.report(Outcome::upgrade_queued, "a reload is in progress; the upgrade runs after it");
            return;
        case Phase::upgrading:
            step.report(Outcome::upgrade_failed, "a binary upgrade is already in progress");
            return;
        case Phase::stopping:
            step.report(Outcome::upgrade_failed, "the cluster is stopping");
            return;
    }
}

void Rotation::on_event(const rotation_event::UpgradeReady&, Step& step) {
    if (phase_ != Phase::upgrading) return;
    phase_ = Phase::stopping;
    step.act(Kind::hand_over, 0);
    step.report(Outcome::upgrade_complete, "the new supervisor serves; this one drains and exits");
    if (reload_queued_) step.report(Outcome::reload_refused, "a binary upgrade replaced this instance");
    reload_queued_ = false;
}

void Rotation::on_event(const rotation_event::UpgradeFailed& event, Step& step) {
    if (phase_ != Phase::upgrading) return;
    phase_ = Phase::idle;
    step.report(Outcome::upgrade_failed, event.why);
    finish_phase(step);
    reconcile(step);
}

void Rotation::on_event(const rotation_event::StopAsked&, Step& step) {
    const Phase was = phase_;
    phase_ = Phase::stopping;
    if (was == Phase::loading || was == Phase::reloading || reload_queued_) {
        step.report(Outcome::reload_failed, "the cluster is stopping");
    }
    if (was == Phase::upgrading || upgrade_queued_) step.report(Outcome::upgrade_failed, "the cluster is stopping");
    reload_queued_ = upgrade_queued_ = scale_pending_ = false;
}

void Rotation::on_event(const rotation_event::Tick&, Step& step) { reconcile(step); }

// What was queued behind the phase that just ended runs now.
void Rotation::finish_phase(Step& step) {
    if (phase_ != Phase::idle) return;
    if (reload_queued_) {
        reload_queued_ = false;
        phase_ = Phase::loading;
        step.act(Kind::load_configuration, 0);
    } else if (upgrade_queued_) {
        upgrade_queued_ = false;
        phase_ = Phase::upgrading;
        step.act(Kind::start_upgrade, 0);
    }
}

// The worker in `slot` drains and its slot is not refilled.
void Rotation::retire(unsigned slot, const std::string& why, Step& step) {
    const S state = step.slots[slot].state;
    if (state == S::backoff || state == S::failed) {
        duties_[slot].spare = false;
        step.act(Kind::discard, slot, why);
        return;
    }
    if (state != S::starting && state != S::ready) return;
    duties_[slot].retiring = true;
    step.act(Kind::drain, slot, why);
}

bool Rotation::start_successor(unsigned slot, const std::string& why, Step& step) {
    const auto spare = free_slot(step);
    if (!spare) {
        step.report(Outcome::note, "worker " + std::to_string(slot) + " cannot be replaced (" + why +
                                       ") yet: no spare slot is free; it keeps serving");
        return false;
    }
    duties_[*spare].replaces = slot;
    duties_[*spare].spare = false;
    step.act(Kind::spawn, *spare, "replaces worker " + std::to_string(slot) + ": " + why);
    return true;
}

// Brings the serving count to wanted, then takes the reload's next step.
void Rotation::reconcile(Step& step) {
    if (phase_ == Phase::stopping) return;
    auto serving_now = serving_slots(step);
    if (serving_now.size() > wanted_) {
        // Surplus: those not up first, then the oldest configuration, then the highest slot.
        std::stable_sort(serving_now.begin(), serving_now.end(), [&](unsigned a, unsigned b) {
            const SlotView& x = step.slots[a];
            const SlotView& y = step.slots[b];
            if (leave_rank(x) != leave_rank(y)) return leave_rank(x) < leave_rank(y);
            if (x.config_generation != y.config_generation) return x.config_generation < y.config_generation;
            return a > b;
        });
        for (std::size_t i = 0; i < serving_now.size() - wanted_; ++i) {
            retire(serving_now[i], "fewer workers wanted", step);
        }
    }
    for (auto missing = wanted_ - std::min<unsigned>(wanted_, static_cast<unsigned>(serving_now.size()));
         missing > 0; --missing) {
        const auto slot = free_slot(step);
        if (!slot) break;
        duties_[*slot].spare = false;
        step.act(Kind::spawn, *slot, "a worker is missing");
    }
    reconcile_spares(step);
    if (phase_ == Phase::reloading) continue_reload(step);
    if (phase_ == Phase::idle && scale_pending_) {
        const auto now = serving_slots(step);
        const bool all_ready = std::all_of(now.begin(), now.end(),
                                           [&](unsigned slot) { return step.slots[slot].state == S::ready; });
        if (now.size() == wanted_ && all_ready && !successor_in_flight()) {
            scale_pending_ = false;
            step.report(Outcome::scaled, std::to_string(wanted_) + " workers ready");
        }
    }
}

// Brings the hot spares to spares_: during a reload the older
// configuration's spares leave first (new ones start in their place), then
// surplus ones (those not ready first), and missing ones start in free slots.
void Rotation::reconcile_spares(Step& step) {
    if (phase_ == Phase::stopping) return;
    if (phase_ == Phase::reloading) {
        for (unsigned slot : spare_slots(step)) {
            if (step.slots[slot].config_generation != generation_) retire(slot, "reload: a new spare replaces it", step);
        }
    }
    auto spares = spare_slots(step);
    if (spares.size() > spares_) {
        std::stable_sort(spares.begin(), spares.end(), [&](unsigned a, unsigned b) {
            if (leave_rank(step.slots[a]) != leave_rank(step.slots[b])) {
                return leave_rank(step.slots[a]) < leave_rank(step.slots[b]);
            }
            return a > b;
        });
        for (std::size_t i = 0; i < spares.size() - spares_; ++i) retire(spares[i], "fewer spares wanted", step);
    }
    for (auto missing = spares_ - std::min<unsigned>(spares_, static_cast<unsigned>(spares.size())); missing > 0;
         --missing) {
        const auto slot = free_slot(step);
        if (!slot) break;
        duties_[*slot].spare = true;
        step.act(Kind::spawn_spare, *slot, "a hot spare is missing");
    }
}

// One replacement at a time: the next serving worker of an older generation
// gets a successor once none is in flight. With hot spares, the spares are
// replaced first; each step then promotes a ready spare of the new
// configuration, drains the old worker, and waits until the next spare is
// ready before the following step.
void Rotation::continue_reload(Step& step) {
    // Not up (backoff, failed): nothing to hand over; its place starts anew
    // with the new configuration, at once.
    for (unsigned slot : serving_slots(step)) {
        const SlotView& view = step.slots[slot];
        if (view.config_generation == generation_ || (view.state != S::backoff && view.state != S::failed)) continue;
        step.act(Kind::discard, slot, "reload");
        if (const auto free = free_slot(step)) step.act(Kind::spawn, *free, "reload");
    }
    if (successor_in_flight()) return;
    const auto spares = spare_slots(step);
    // A spare still starting (a new one) is what the next step promotes: wait for it.
    if (std::any_of(spares.begin(), spares.end(), [&](unsigned slot) { return step.slots[slot].state == S::starting; })) {
        return;
    }
    const auto serving_now = serving_slots(step);
    for (unsigned slot : serving_now) {
        const SlotView& view = step.slots[slot];
        if (view.config_generation == generation_) continue;
        // Ready: a new spare takes its place, or its successor starts;
        // starting on the old configuration: replaced once it is ready.
        if (view.state != S::ready) return;
        const auto spare = ready_spare(step);
        if (spare && step.slots[*spare].config_generation == generation_) {
            promote(*spare, "reload: replaces worker " + std::to_string(slot), step);
            retire(slot, "reload: hot spare " + std::to_string(*spare) + " took its place", step);
            reconcile_spares(step);
        } else {
            (void)start_successor(slot, "reload", step);
        }
        return;
    }
    const bool done = serving_now.size() == wanted_ &&
                      std::all_of(serving_now.begin(), serving_now.end(), [&](unsigned slot) {
                          return step.slots[slot].state == S::ready && step.slots[slot].config_generation == generation_;
                      }) &&
                      std::all_of(spares.begin(), spares.end(), [&](unsigned slot) {
                          return step.slots[slot].config_generation == generation_;
                      });
    if (!done) return;
    phase_ = Phase::idle;
    step.report(Outcome::reload_complete,
                std::to_string(wanted_) + " workers on configuration generation " + std::to_string(generation_));
    if (scale_pending_) {
        scale_pending_ = false;
        step.report(Outcome::scaled, std::to_string(wanted_) + " workers ready");
    }
    finish_phase(step);
}

}  // namespace clusterd::supervisor
