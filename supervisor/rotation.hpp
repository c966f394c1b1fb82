// Slot rotation: which HTTP worker slots should run a worker, and which
// worker replaces which, across reloads, graceful replacements (recycling,
// --max-requests, --max-worker-memory), scaling and the binary upgrade
// hand-over. One pure component: events in, actions out. It never touches a
// process, a timer or a log; the Supervisor carries its actions out
// (supervisor_rotation.cpp) and tells it what happened. Unit tests drive it
// through every event in every phase (tests/unit/supervisor/rotation_test.cpp);
// docs/ROTATION.md is its table of phases and events.
//
// What it owns: the wanted number of serving processes, the configuration
// generation, the phase (idle, loading a configuration, reloading,
// upgrading, stopping), what is queued behind the phase, and each slot's
// duty: serving, successor of another slot, or retiring. What it does not
// own: a slot's lifecycle state (Slots, slot.hpp, the only writer of it),
// which it reads in every event's SlotView, and when a dead worker may start
// again (restart_policy.hpp), which it delegates with a restart action.
//
// Rules:
//  - serving = occupied slots that are neither retiring nor a successor;
//    every step brings their count to `wanted`: surplus ones drain (those not
//    ready, and the oldest configuration, first), missing ones are spawned
//    into free slots;
//  - a replacement starts the successor in a free (spare) slot; only once it
//    is ready does the replaced worker drain: capacity never dips;
//  - a reload replaces every serving worker of an older generation, one at
//    a time; one in backoff or failed is discarded, its place is spawned
//    anew with the new configuration; it completes once every serving slot
//    is ready on the new generation;
//  - a successor that dies before it is ready ends the reload as failed (the
//    workers not yet replaced keep serving); outside a reload it is left to
//    the restart policy, like any worker;
//  - a reload or an upgrade asked for while one runs is queued and runs
//    after it, never dropped; the periodic tick repeats the step, so no lost
//    event leaves a slot stuck;
//  - hot spares (--spares K): K more slots run a worker that is initialised
//    and ready but does not accept. When a serving worker dies, the ready
//    spare is promoted (it starts accepting: no exec on that path) and the
//    dead slot is restarted by the restart policy as the next spare; when
//    one is replaced (recycling), the spare is promoted and the old one
//    drains. A spare that dies is restarted like any worker, nothing else
//    moves. A reload replaces the spares first (old ones drain, new ones
//    start), then each replacement step promotes a ready new spare and
//    drains the old worker, and waits for the next spare to be ready.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/slot_state.hpp"

namespace clusterd::supervisor {

// What the rotation reads of a slot, indexed by slot number.
struct SlotView {
    SlotState state = SlotState::empty;
    std::uint64_t config_generation = 0;  // of the worker in it (the last one, if none is)
};

namespace rotation_event {
struct Start { unsigned wanted; unsigned spares = 0; };  // the supervisor's loop starts
struct ReloadAsked {};                             // SIGHUP, `clusterd reload`
struct ConfigurationAccepted { unsigned wanted; unsigned spares = 0; };  // the answer to load_configuration
struct ConfigurationRefused { std::string why; };   // the other answer
struct ScaleAsked { unsigned wanted; };            // `clusterd scale N`
struct ReplaceAsked { unsigned slot; std::string why; };  // recycle, --max-requests, memory
struct Ready { unsigned slot; };                   // its worker reported ready
struct Exited { unsigned slot; };                  // its worker was reaped (state: exited)
struct DrainDeadline { unsigned slot; };           // --shutdown-timeout after it was told to drain
struct UpgradeAsked {};                            // SIGUSR2, `clusterd upgrade`
struct UpgradeReady {};                            // the new supervisor's cluster is ready
struct UpgradeFailed { std::string why; };
struct StopAsked {};                               // SIGTERM, SIGINT, SIGQUIT, `clusterd stop`
struct Tick {};                                    // the periodic reconcile
}  // namespace rotation_event

using RotationEvent =
    std::variant<rotation_event::Start, rotation_event::ReloadAsked, rotation_event::ConfigurationAccepted,
                 rotation_event::ConfigurationRefused, rotation_event::ScaleAsked, rotation_event::ReplaceAsked,
                 rotation_event::Ready, rotation_event::Exited, rotation_event::DrainDeadline,
                 rotation_event::UpgradeAsked, rotation_event::UpgradeReady, rotation_event::UpgradeFailed,
                 rotation_event::StopAsked, rotation_event::Tick>;

enum class Outcome {
    reload_queued,     // it runs after the one in progress
    reload_complete,
    reload_refused,    // the configuration was invalid or cannot apply; nothing changed
    reload_failed,     // a new worker died before ready; the rest keep the old configuration
    upgrade_queued,
    upgrade_complete,  // the new supervisor took over
    upgrade_failed,
    scaled,            // the wanted number of workers is ready
    note,              // something an operator should read, no outcome of a command
};

struct RotationAction {
    enum class Kind {
        spawn,               // start a worker in `slot` (empty), with the current generation
        spawn_spare,         // start a hot spare in `slot` (empty): initialised, ready, not accepting
        promote,             // the hot spare in `slot` (ready) starts accepting: it serves from now on
        drain,               // tell the worker in `slot` (starting or ready) to drain and leave
        discard,             // `slot` (backoff or failed) is not to be restarted: make it empty
        release,             // `slot` (exited) becomes empty, no restart
        restart,             // `slot` (exited): the restart policy decides when it starts again
        restart_as_spare,    // `slot` (exited), whose place a promoted spare took: restarted (by the
                             // policy) as the next hot spare
        kill,                // SIGKILL the worker in `slot`
        load_configuration,  // parse and check the configuration; answer Accepted or Refused
        start_upgrade,       // start the new binary
        hand_over,           // the new supervisor serves: drain everything and exit
        report,              // `outcome`, with `why`
    };
    Kind kind;
    unsigned slot = 0;
    Outcome outcome = Outcome::note;
    std::string why;

    bool operator==(const RotationAction&) const = default;
};

class Rotation {
public:
    enum class Phase { idle, loading, reloading, upgrading, stopping };

    // process_slots: the slots that carry an HTTP worker process, in order
    // (with --model=threads every L-th); slot_count: all slots.
    Rotation(std::vector<unsigned> process_slots, unsigned slot_count);

    // slots: every slot's view, as the Supervisor's Slots hold it now (after
    // the transition the event reports).
    [[nodiscard]] std::vector<RotationAction> on(const RotationEvent& event, const std::vector<SlotView>& slots);

    [[nodiscard]] Phase phase() const { return phase_; }
    [[nodiscard]] std::uint64_t generation() const { return generation_; }
    [[nodiscard]] unsigned wanted() const { return wanted_; }
    [[nodiscard]] unsigned spares_wanted() const { return spares_; }
    // The worker in `slot` is (or, once started, will be) a hot spare: not accepting.
    [[nodiscard]] bool spare(unsigned slot) const { return duties_.at(slot).spare; }
    [[nodiscard]] bool retiring(unsigned slot) const { return duties_.at(slot).retiring; }
    [[nodiscard]] std::optional<unsigned> replaces(unsigned slot) const { return duties_.at(slot).replaces; }
    [[nodiscard]] bool has_successor(unsigned slot) const;
    [[nodiscard]] bool reload_queued() const { return reload_queued_; }
    [[nodiscard]] bool upgrade_queued() const { return upgrade_queued_; }

private:
    struct Duty {
        bool retiring = false;
        std::optional<unsigned> replaces;  // this slot's worker is the successor of that slot's
        bool spare = false;                 // a hot spare: started, not accepting until promoted
    };
    // The work of one event: the actions so far and the slots as they will be
    // once those are carried out, so one step never spawns twice into a slot.
    struct Step {
        std::vector<SlotView> slots;
        std::uint64_t generation;  // what a spawn starts with
        std::vector<RotationAction> actions;
        void act(RotationAction::Kind kind, unsigned slot, std::string why = {});
        void report(Outcome outcome, std::string why) {
            actions.push_back({RotationAction::Kind::report, 0, outcome, std::move(why)});
        }
    };

    void on_event(const rotation_event::Start& event, Step& step);
    void on_event(const rotation_event::ReloadAsked& event, Step& step);
    void on_event(const rotation_event::ConfigurationAccepted& event, Step& step);
    void on_event(const rotation_event::ConfigurationRefused& event, Step& step);
    void on_event(const rotation_event::ScaleAsked& event, Step& step);
    void on_event(const rotation_event::ReplaceAsked& event, Step& step);
    void on_event(const rotation_event::Ready& event, Step& step);
    void on_event(const rotation_event::Exited& event, Step& step);
    void on_event(const rotation_event::DrainDeadline& event, Step& step);
    void on_event(const rotation_event::UpgradeAsked& event, Step& step);
    void on_event(const rotation_event::UpgradeReady& event, Step& step);
    void on_event(const rotation_event::UpgradeFailed& event, Step& step);
    void on_event(const rotation_event::StopAsked& event, Step& step);
    void on_event(const rotation_event::Tick& event, Step& step);

    void reconcile(Step& step);
    void continue_reload(Step& step);
    void finish_phase(Step& step);
    bool start_successor(unsigned slot, const std::string& why, Step& step);
    void retire(unsigned slot, const std::string& why, Step& step);
    void reconcile_spares(Step& step);
    [[nodiscard]] std::vector<unsigned> spare_slots(const Step& step) const;
    [[nodiscard]] std::optional<unsigned> ready_spare(const Step& step) const;
    void promote(unsigned spare, const std::string& why, Step& step);
    [[nodiscard]] bool serving(unsigned slot, const Step& step) const;
    [[nodiscard]] std::vector<unsigned> serving_slots(const Step& step) const;
    [[nodiscard]] std::optional<unsigned> free_slot(const Step& step) const;
    [[nodiscard]] bool successor_in_flight() const;

    std::vector<unsigned> process_slots_;
    std::vector<Duty> duties_;  // by slot
    Phase phase_ = Phase::idle;
    std::uint64_t generation_ = 1;
    unsigned wanted_ = 0;
    unsigned spares_ = 0;
    bool reload_queued_ = false;
    bool upgrade_queued_ = false;
    bool scale_pending_ = false;
};

[[nodiscard]] const char* to_string(Rotation::Phase phase);
[[nodiscard]] const char* to_string(Outcome outcome);

}  // namespace clusterd::supervisor
