// The rotation as a pure state machine: a fake cluster carries its actions
// out on slot views (a spawn starts a worker, a drain drains it ...), and the
// tests say when workers become ready or exit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/rotation.hpp"

using namespace clusterd;
using namespace clusterd::supervisor;
namespace ev = clusterd::supervisor::rotation_event;
using Kind = RotationAction::Kind;
using S = SlotState;

namespace {

// Four HTTP process slots (two serving, two spares), as the supervisor has
// for --workers 2 of a smaller instance.
class FakeCluster {
public:
    explicit FakeCluster(unsigned slots = 4) : rotation(all_slots(slots), slots), views(slots) {}

    // Sends an event, carries out the actions as the Supervisor would (a
    // restart respawns at once), and returns them.
    std::vector<RotationAction> send(const RotationEvent& event) {
        auto actions = rotation.on(event, views);
        for (const auto& action : actions) apply(action);
        log.insert(log.end(), actions.begin(), actions.end());
        return actions;
    }
    std::vector<RotationAction> ready(unsigned slot) {
        REQUIRE(views[slot].state == S::starting);
        views[slot].state = S::ready;
        return send(ev::Ready{slot});
    }
    std::vector<RotationAction> exit(unsigned slot) {
        REQUIRE(views[slot].state != S::empty);
        views[slot].state = S::exited;
        return send(ev::Exited{slot});
    }
    // Every starting worker reports ready.
    void all_ready() {
        for (bool again = true; again;) {
            again = false;
            for (unsigned i = 0; i < views.size(); ++i) {
                if (views[i].state == S::starting) {
                    (void)ready(i);
                    again = true;
                }
            }
        }
    }
    // Every draining worker exits.
    void drained_exit() {
        for (unsigned i = 0; i < views.size(); ++i) {
            if (views[i].state == S::draining) (void)exit(i);
        }
    }
    // Workers get ready and drained ones exit, until `outcome` is reported (bounded).
    void settle_until(Outcome outcome) {
        for (int i = 0; i < 8 && !logged(outcome); ++i) {
            all_ready();
            drained_exit();
        }
    }
    void start(unsigned wanted) {
        (void)send(ev::Start{wanted});
        all_ready();
    }
    // A reload whose configuration is accepted, with `wanted` workers.
    std::vector<RotationAction> reload(unsigned wanted) {
        auto asked = send(ev::ReloadAsked{});
        REQUIRE(has(asked, Kind::load_configuration));
        return send(ev::ConfigurationAccepted{wanted});
    }
    [[nodiscard]] unsigned count(S state) const {
        return static_cast<unsigned>(std::count_if(views.begin(), views.end(),
                                                   [&](const SlotView& v) { return v.state == state; }));
    }
    [[nodiscard]] unsigned ready_on(std::uint64_t generation) const {
        return static_cast<unsigned>(std::count_if(views.begin(), views.end(), [&](const SlotView& v) {
            return v.state == S::ready && v.config_generation == generation;
        }));
    }
    static bool has(const std::vector<RotationAction>& actions, Kind kind) {
        return std::any_of(actions.begin(), actions.end(), [&](const auto& a) { return a.kind == kind; });
    }
    static bool reports(const std::vector<RotationAction>& actions, Outcome outcome) {
        return std::any_of(actions.begin(), actions.end(),
                           [&](const auto& a) { return a.kind == Kind::report && a.outcome == outcome; });
    }
    [[nodiscard]] bool logged(Outcome outcome) const { return reports(log, outcome); }

    Rotation rotation;
    std::vector<SlotView> views;
    std::vector<RotationAction> log;

private:
    static std::vector<unsigned> all_slots(unsigned n) {
        std::vector<unsigned> out(n);
        for (unsigned i = 0; i < n; ++i) out[i] = i;
        return out;
    }
    // What the Supervisor does, and what it refuses (a spawn into an
    // occupied slot is a bug of the rotation: the test fails).
    void apply(const RotationAction& action) {
        SlotView& view = views[action.slot];
        switch (action.kind) {
            case Kind::spawn:
            case Kind::spawn_spare:
                REQUIRE(view.state == S::empty);
                view = {S::starting, rotation.generation()};
                break;
            case Kind::promote:
                REQUIRE(view.state == S::ready);
                break;
            case Kind::drain:
                REQUIRE((view.state == S::starting || view.state == S::ready));
                view.state = S::draining;
                break;
            case Kind::discard:
                REQUIRE((view.state == S::backoff || view.state == S::failed));
                view.state = S::empty;
                break;
            case Kind::release:
                REQUIRE(view.state == S::exited);
                view.state = S::empty;
                break;
            case Kind::restart:
            case Kind::restart_as_spare:
                REQUIRE(view.state == S::exited);
                view = {S::starting, rotation.generation()};
                break;
            case Kind::kill:
                REQUIRE(view.state == S::draining);
                break;
            case Kind::load_configuration:
            case Kind::start_upgrade:
            case Kind::hand_over:
            case Kind::report: break;
        }
    }
};

}  // namespace

TEST_CASE("start spawns the wanted workers, and a dead ready worker goes to the restart policy",
          "[supervisor][rotation]") {
    FakeCluster cluster;
    const auto started = cluster.send(ev::Start{2});
    CHECK(std::count_if(started.begin(), started.end(), [](const auto& a) { return a.kind == Kind::spawn; }) == 2);
    cluster.all_ready();
    CHECK(cluster.count(S::ready) == 2);
    const auto died = cluster.exit(0);
    CHECK(FakeCluster::has(died, Kind::restart));
    CHECK_FALSE(FakeCluster::has(died, Kind::spawn));  // the restart policy refills it, nobody else
}

TEST_CASE("a reload replaces one worker at a time, the successor ready before its predecessor drains",
          "[supervisor][rotation]") {
    FakeCluster cluster;
    cluster.start(2);
    const auto first = cluster.reload(2);
    REQUIRE(cluster.rotation.phase() == Rotation::Phase::reloading);
    CHECK(cluster.count(S::starting) == 1);  // one successor, no drain yet
    CHECK_FALSE(FakeCluster::has(first, Kind::drain));
    for (int round = 0; round < 2; ++round) {
        CHECK(cluster.count(S::ready) == 2);  // capacity never dips
        for (unsigned i = 0; i < cluster.views.size(); ++i) {
            if (cluster.views[i].state == S::starting) {
                const auto step = cluster.ready(i);
                CHECK(FakeCluster::has(step, Kind::drain));
                break;
            }
        }
        cluster.drained_exit();
    }
    CHECK(cluster.logged(Outcome::reload_complete));
    CHECK(cluster.ready_on(2) == 2);
    CHECK(cluster.rotation.phase() == Rotation::Phase::idle);
}

TEST_CASE("a refused configuration changes nothing", "[supervisor][rotation]") {
    FakeCluster cluster;
    cluster.start(2);
    (void)cluster.send(ev::ReloadAsked{});
    const auto refused = cluster.send(ev::ConfigurationRefused{"workers = many"});
    CHECK(FakeCluster::reports(refused, Outcome::reload_refused));
    CHECK(refused.size() == 1);
    CHECK(cluster.rotation.generation() == 1);
    CHECK(cluster.rotation.phase() == Rotation::Phase::idle);
    CHECK(cluster.ready_on(1) == 2);
}

TEST_CASE("a reload asked for during a reload is queued and runs after it", "[supervisor][rotation]") {
    FakeCluster cluster;
    cluster.start(2);
    (void)cluster.reload(2);
    const auto again = cluster.send(ev::ReloadAsked{});
    CHECK(FakeCluster::reports(again, Outcome::reload_queued));
    CHECK_FALSE(FakeCluster::has(again, Kind::load_configuration));
    // The first one completes; the queued one asks for the configuration.
    cluster.settle_until(Outcome::reload_complete);
    REQUIRE(cluster.logged(Outcome::reload_complete));
    CHECK(FakeCluster::has(cluster.log, Kind::load_configuration));
    CHECK(cluster.rotation.phase() == Rotation::Phase::loading);
    (void)cluster.send(ev::ConfigurationAccepted{2});
    for (int i = 0; i < 4 && cluster.ready_on(3) < 2; ++i) {
        cluster.all_ready();
        cluster.drained_exit();
    }
    CHECK(cluster.ready_on(3) == 2);
    CHECK(cluster.rotation.phase() == Rotation::Phase::idle);
}

TEST_CASE("a successor that dies before it is ready fails the reload, and the old workers keep serving",
          "[supervisor][rotation]") {
    FakeCluster cluster;
    cluster.start(2);
    (void)cluster.reload(2);
    unsigned successor = 0;
    for (unsigned i = 0; i < 4; ++i) {
        if (cluster.views[i].state == S::starting) successor = i;
    }
    REQUIRE(cluster.rotation.replaces(successor).has_value());
    const auto died = cluster.exit(successor);
    CHECK(FakeCluster::reports(died, Outcome::reload_failed));
    CHECK(FakeCluster::has(died, Kind::release));
    CHECK_FALSE(FakeCluster::has(died, Kind::drain));
    CHECK(cluster.rotation.phase() == Rotation::Phase::idle);
    CHECK(cluster.ready_on(1) == 2);
    CHECK(cluster.count(S::starting) == 0);
}

TEST_CASE("outside a reload, a successor that dies before ready is left to the restart policy",
          "[supervisor][rotation]") {
    FakeCluster cluster;
    cluster.start(2);
    (void)cluster.send(ev::ReplaceAsked{0, "max requests"});
    REQUIRE(cluster.count(S::starting) == 1);
    const unsigned successor = 2;
    REQUIRE(cluster.rotation.replaces(successor) == 0u);
    CHECK(FakeCluster::has(cluster.exit(successor), Kind::restart));
    CHECK(cluster.rotation.replaces(successor) == 0u);
    const auto ready = cluster.ready(successor);
    CHECK(FakeCluster::has(ready, Kind::drain));
    CHECK(cluster.views[0].state == S::draining);
}

TEST_CASE("a predecessor that dies while its successor starts is not refilled: the successor takes its place",
          "[supervisor][rotation]") {
    FakeCluster cluster;
    cluster.start(2);
    (void)cluster.send(ev::ReplaceAsked{1, "memory limit"});
    const auto died = cluster.exit(1);
    CHECK(FakeCluster::has(died, Kind::release));
    CHECK_FALSE(FakeCluster::has(died, Kind::spawn));
    CHECK_FALSE(FakeCluster::has(died, Kind::restart));
    cluster.all_ready();
    CHECK(cluster.count(S::ready) == 2);
}

TEST_CASE("scaling down during a reload drains the surplus and the reload completes with the new count",
          "[supervisor][rotation]") {
    FakeCluster cluster(6);
    cluster.start(3);
    (void)cluster.reload(3);
    const auto scaled = cluster.send(ev::ScaleAsked{1});
    CHECK(FakeCluster::has(scaled, Kind::drain));
    cluster.settle_until(Outcome::reload_complete);
    CHECK(cluster.logged(Outcome::reload_complete));
    CHECK(cluster.logged(Outcome::scaled));
    CHECK(cluster.count(S::ready) == 1);
    CHECK(cluster.ready_on(2) == 1);
}

TEST_CASE("scaling up spawns the missing workers and reports once they are ready", "[supervisor][rotation]") {
    FakeCluster cluster(6);
    cluster.start(1);
    const auto scaled = cluster.send(ev::ScaleAsked{3});
    CHECK(std::count_if(scaled.begin(), scaled.end(), [](const auto& a) { return a.kind == Kind::spawn; }) == 2);
    CHECK_FALSE(cluster.logged(Outcome::scaled));
    cluster.all_ready();
    CHECK(cluster.logged(Outcome::scaled));
}

TEST_CASE("an upgrade asked for during a reload runs after it", "[supervisor][rotation]") {
    FakeCluster cluster;
    cluster.start(2);
    (void)cluster.reload(2);
    const auto upgrade = cluster.send(ev::UpgradeAsked{});
    CHECK(FakeCluster::reports(upgrade, Outcome::upgrade_queued));
    CHECK_FALSE(FakeCluster::has(upgrade, Kind::start_upgrade));
    cluster.settle_until(Outcome::reload_complete);
    CHECK(FakeCluster::has(cluster.log, Kind::start_upgrade));
    CHECK(cluster.rotation.phase() == Rotation::Phase::upgrading);
    const auto handed = cluster.send(ev::UpgradeReady{});
    CHECK(FakeCluster::has(handed, Kind::hand_over));
    CHECK(cluster.rotation.phase() == Rotation::Phase::stopping);
}

TEST_CASE("a reload asked for during an upgrade runs once the upgrade has failed", "[supervisor][rotation]") {
    FakeCluster cluster;
    cluster.start(2);
    (void)cluster.send(ev::UpgradeAsked{});
    CHECK(FakeCluster::reports(cluster.send(ev::ReloadAsked{}), Outcome::reload_queued));
    const auto failed = cluster.send(ev::UpgradeFailed{"exited with code 1"});
    CHECK(FakeCluster::reports(failed, Outcome::upgrade_failed));
    CHECK(FakeCluster::has(failed, Kind::load_configuration));
}

TEST_CASE("a draining worker past its deadline is killed, and one that is not draining is not",
          "[supervisor][rotation]") {
    FakeCluster cluster;
    cluster.start(2);
    CHECK(cluster.send(ev::DrainDeadline{0}).empty());
    (void)cluster.send(ev::ScaleAsked{1});
    unsigned draining = 0;
    for (unsigned i = 0; i < 4; ++i) {
        if (cluster.views[i].state == S::draining) draining = i;
    }
    const auto killed = cluster.send(ev::DrainDeadline{draining});
    REQUIRE(killed.size() == 1);
    CHECK(killed[0].kind == Kind::kill);
    CHECK(FakeCluster::has(cluster.exit(draining), Kind::release));
}

TEST_CASE("the periodic tick refills a slot no event refilled", "[supervisor][rotation]") {
    FakeCluster cluster;
    cluster.start(2);
    cluster.views[1].state = S::empty;  // say, its exit was never reported
    const auto tick = cluster.send(ev::Tick{});
    CHECK(FakeCluster::has(tick, Kind::spawn));
    CHECK(cluster.send(ev::Tick{}).empty());  // once
}

TEST_CASE("a stop fails the reload in progress and releases every slot that exits", "[supervisor][rotation]") {
    FakeCluster cluster;
    cluster.start(2);
    (void)cluster.reload(2);
    const auto stop = cluster.send(ev::StopAsked{});
    CHECK(FakeCluster::reports(stop, Outcome::reload_failed));
    for (unsigned i = 0; i < 4; ++i) {
        if (cluster.views[i].state == S::empty) continue;
        const auto exited = cluster.exit(i);
        CHECK(FakeCluster::has(exited, Kind::release));
        CHECK_FALSE(FakeCluster::has(exited, Kind::spawn));
    }
    CHECK(FakeCluster::reports(cluster.send(ev::ReloadAsked{}), Outcome::reload_refused));
    CHECK(FakeCluster::reports(cluster.send(ev::UpgradeAsked{}), Outcome::upgrade_failed));
}

TEST_CASE("a reload replaces a slot in backoff by a fresh worker of the new configuration",
          "[supervisor][rotation]") {
    FakeCluster cluster;
    cluster.start(2);
    cluster.views[1].state = S::backoff;  // its worker died young; the restart policy waits
    const auto reload = cluster.reload(2);
    CHECK(FakeCluster::has(reload, Kind::discard));
    CHECK(FakeCluster::has(reload, Kind::spawn));
    cluster.settle_until(Outcome::reload_complete);
    CHECK(cluster.logged(Outcome::reload_complete));
    CHECK(cluster.ready_on(2) == 2);
}

namespace {

// Brings a fresh cluster of two workers into `phase`.
void enter(FakeCluster& cluster, Rotation::Phase phase) {
    cluster.start(2);
    switch (phase) {
        case Rotation::Phase::idle: break;
        case Rotation::Phase::loading: (void)cluster.send(ev::ReloadAsked{}); break;
        case Rotation::Phase::reloading: (void)cluster.reload(2); break;
        case Rotation::Phase::upgrading: (void)cluster.send(ev::UpgradeAsked{}); break;
        case Rotation::Phase::stopping: (void)cluster.send(ev::StopAsked{}); break;
    }
    REQUIRE(cluster.rotation.phase() == phase);
}

std::vector<RotationEvent> every_event() {
    return {ev::Start{2},         ev::ReloadAsked{},      ev::ConfigurationAccepted{2}, ev::ConfigurationRefused{"x"},
            ev::ScaleAsked{3},    ev::ReplaceAsked{0, "x"}, ev::Ready{0},               ev::Exited{0},
            ev::DrainDeadline{0}, ev::UpgradeAsked{},     ev::UpgradeReady{},           ev::UpgradeFailed{"x"},
            ev::StopAsked{},      ev::Tick{}};
}

}  // namespace

TEST_CASE("every event in every phase: no action on a slot in the wrong state, and commands always answered",
          "[supervisor][rotation]") {
    const auto phase = GENERATE(Rotation::Phase::idle, Rotation::Phase::loading, Rotation::Phase::reloading,
                                Rotation::Phase::upgrading, Rotation::Phase::stopping);
    const auto events = every_event();
    const auto which = GENERATE(range<std::size_t>(0, 14));
    INFO("phase " << to_string(phase) << ", event #" << which);
    FakeCluster cluster(6);
    enter(cluster, phase);
    RotationEvent event = events[which];
    // Ready and Exited are facts about a slot: make them true first.
    if (std::holds_alternative<ev::Ready>(event)) {
        const auto starting = std::find_if(cluster.views.begin(), cluster.views.end(),
                                           [](const SlotView& v) { return v.state == S::starting; });
        if (starting == cluster.views.end()) return;  // nothing starts in this phase
        event = ev::Ready{static_cast<unsigned>(starting - cluster.views.begin())};
        cluster.views[std::get<ev::Ready>(event).slot].state = S::ready;
    }
    if (std::holds_alternative<ev::Exited>(event)) cluster.views[0].state = S::exited;
    // FakeCluster::send REQUIREs every action to fit its slot's state.
    const auto actions = cluster.send(event);
    if (std::holds_alternative<ev::ReloadAsked>(event)) {
        const bool answered = FakeCluster::has(actions, Kind::load_configuration) ||
                              FakeCluster::reports(actions, Outcome::reload_queued) ||
                              FakeCluster::reports(actions, Outcome::reload_refused);
        CHECK(answered);
        CHECK(FakeCluster::has(actions, Kind::load_configuration) == (phase == Rotation::Phase::idle));
    }
    if (std::holds_alternative<ev::UpgradeAsked>(event)) {
        CHECK(FakeCluster::has(actions, Kind::start_upgrade) == (phase == Rotation::Phase::idle));
        CHECK(FakeCluster::reports(actions, Outcome::upgrade_queued) ==
              (phase == Rotation::Phase::loading || phase == Rotation::Phase::reloading));
    }
    if (phase == Rotation::Phase::stopping) CHECK_FALSE(FakeCluster::has(actions, Kind::spawn));
    if (std::holds_alternative<ev::Exited>(event)) {
        const bool decided = FakeCluster::has(actions, Kind::release) || FakeCluster::has(actions, Kind::restart);
        CHECK(decided);
    }
}

// --- hot spares (--spares K) ---

namespace {

unsigned count_kind(const std::vector<RotationAction>& actions, Kind kind) {
    return static_cast<unsigned>(
        std::count_if(actions.begin(), actions.end(), [&](const auto& a) { return a.kind == kind; }));
}

std::optional<unsigned> slot_of(const std::vector<RotationAction>& actions, Kind kind) {
    for (const auto& a : actions) {
        if (a.kind == kind) return a.slot;
    }
    return std::nullopt;
}

// Slots whose worker is a hot spare, and serving ones (occupied, neither spare nor retiring).
std::vector<unsigned> spares_of(const FakeCluster& cluster) {
    std::vector<unsigned> out;
    for (unsigned i = 0; i < cluster.views.size(); ++i) {
        if (cluster.views[i].state != S::empty && cluster.rotation.spare(i) && !cluster.rotation.retiring(i)) {
            out.push_back(i);
        }
    }
    return out;
}

std::vector<unsigned> serving_of(const FakeCluster& cluster) {
    std::vector<unsigned> out;
    for (unsigned i = 0; i < cluster.views.size(); ++i) {
        const S state = cluster.views[i].state;
        if (state != S::empty && state != S::draining && !cluster.rotation.spare(i) &&
            !cluster.rotation.retiring(i) && !cluster.rotation.replaces(i)) {
            out.push_back(i);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("start spawns the serving workers and the hot spares, the spares as spares", "[supervisor][rotation][spares]") {
    FakeCluster cluster(6);
    const auto started = cluster.send(ev::Start{2, 1});
    CHECK(count_kind(started, Kind::spawn) == 2);
    CHECK(count_kind(started, Kind::spawn_spare) == 1);
    cluster.all_ready();
    CHECK(cluster.count(S::ready) == 3);
    CHECK(spares_of(cluster).size() == 1);
    CHECK(serving_of(cluster).size() == 2);
}

TEST_CASE("a serving worker that dies: the ready spare is promoted at once, the dead slot restarts as the next spare",
          "[supervisor][rotation][spares]") {
    FakeCluster spared(6);
    (void)spared.send(ev::Start{2, 1});
    spared.all_ready();
    const unsigned spare = spares_of(spared).at(0);
    const unsigned victim = serving_of(spared).at(0);
    const auto died = spared.exit(victim);
    REQUIRE(slot_of(died, Kind::promote) == spare);
    CHECK(slot_of(died, Kind::restart_as_spare) == victim);
    CHECK_FALSE(FakeCluster::has(died, Kind::restart));
    CHECK_FALSE(FakeCluster::has(died, Kind::spawn));        // nothing is exec'd to serve again
    CHECK_FALSE(FakeCluster::has(died, Kind::spawn_spare));  // the dead slot is the next spare
    CHECK(spared.rotation.spare(victim));
    CHECK_FALSE(spared.rotation.spare(spare));
    spared.all_ready();
    CHECK(serving_of(spared).size() == 2);
    CHECK(spares_of(spared) == std::vector<unsigned>{victim});
}

TEST_CASE("a spare that dies is restarted and nothing else moves", "[supervisor][rotation][spares]") {
    FakeCluster cluster(6);
    (void)cluster.send(ev::Start{2, 1});
    cluster.all_ready();
    const auto serving_before = serving_of(cluster);
    const unsigned spare = spares_of(cluster).at(0);
    const auto died = cluster.exit(spare);
    CHECK(slot_of(died, Kind::restart) == spare);
    CHECK(died.size() == 1);  // no promotion, no drain, no spawn
    cluster.all_ready();
    CHECK(serving_of(cluster) == serving_before);
    CHECK(spares_of(cluster) == std::vector<unsigned>{spare});
}

TEST_CASE("with no spare ready, a death goes to the restart policy as without spares", "[supervisor][rotation][spares]") {
    FakeCluster cluster(6);
    (void)cluster.send(ev::Start{2, 1});
    // The serving ones are ready; the spare is still starting.
    for (unsigned slot : serving_of(cluster)) (void)cluster.ready(slot);
    const auto died = cluster.exit(serving_of(cluster).at(0));
    CHECK(FakeCluster::has(died, Kind::restart));
    CHECK_FALSE(FakeCluster::has(died, Kind::promote));
}

TEST_CASE("a replacement asked for (recycling) promotes the spare, drains the old one, and starts a new spare",
          "[supervisor][rotation][spares]") {
    FakeCluster cluster(6);
    (void)cluster.send(ev::Start{2, 1});
    cluster.all_ready();
    const unsigned spare = spares_of(cluster).at(0);
    const unsigned old = serving_of(cluster).at(0);
    const auto step = cluster.send(ev::ReplaceAsked{old, "--max-requests"});
    CHECK(slot_of(step, Kind::promote) == spare);
    CHECK(slot_of(step, Kind::drain) == old);
    const auto next = slot_of(step, Kind::spawn_spare);
    REQUIRE(next);
    CHECK(*next != old);
    CHECK(cluster.count(S::ready) == 2);  // the promoted spare and the other one serve; capacity never dips
    cluster.all_ready();
    cluster.drained_exit();
    CHECK(serving_of(cluster).size() == 2);
    CHECK(spares_of(cluster) == std::vector<unsigned>{*next});
}

TEST_CASE("a reload replaces the spares first, then promotes a new spare per step", "[supervisor][rotation][spares]") {
    FakeCluster cluster(8);
    (void)cluster.send(ev::Start{2, 1});
    cluster.all_ready();
    const unsigned old_spare = spares_of(cluster).at(0);
    REQUIRE(FakeCluster::has(cluster.send(ev::ReloadAsked{}), Kind::load_configuration));
    const auto first = cluster.send(ev::ConfigurationAccepted{2, 1});
    // The old spare drains and a new-generation spare starts; no serving worker moves yet.
    CHECK(slot_of(first, Kind::drain) == old_spare);
    CHECK(count_kind(first, Kind::spawn_spare) == 1);
    CHECK_FALSE(FakeCluster::has(first, Kind::promote));
    CHECK_FALSE(FakeCluster::has(first, Kind::spawn));
    // Each step: the new spare becomes ready, is promoted, an old worker drains, the next spare starts.
    for (int round = 0; round < 2; ++round) {
        const auto spares = spares_of(cluster);
        REQUIRE(spares.size() == 1);
        REQUIRE(cluster.views[spares[0]].state == S::starting);
        CHECK(cluster.views[spares[0]].config_generation == 2);
        const auto step = cluster.ready(spares[0]);
        CHECK(slot_of(step, Kind::promote) == spares[0]);
        CHECK(FakeCluster::has(step, Kind::drain));
        CHECK(FakeCluster::has(step, Kind::spawn_spare));
        CHECK_FALSE(FakeCluster::has(step, Kind::spawn));
        cluster.drained_exit();
    }
    const auto last = spares_of(cluster);
    REQUIRE(last.size() == 1);
    (void)cluster.ready(last[0]);
    CHECK(cluster.logged(Outcome::reload_complete));
    CHECK(cluster.ready_on(2) == 3);
    CHECK(cluster.rotation.phase() == Rotation::Phase::idle);
}

TEST_CASE("a reload can change the number of spares", "[supervisor][rotation][spares]") {
    FakeCluster cluster(8);
    (void)cluster.send(ev::Start{2, 1});
    cluster.all_ready();
    (void)cluster.send(ev::ReloadAsked{});
    (void)cluster.send(ev::ConfigurationAccepted{2, 0});
    cluster.settle_until(Outcome::reload_complete);
    CHECK(cluster.logged(Outcome::reload_complete));
    CHECK(spares_of(cluster).empty());
    CHECK(cluster.ready_on(2) == 2);

    (void)cluster.send(ev::ReloadAsked{});
    (void)cluster.send(ev::ConfigurationAccepted{2, 2});
    for (int i = 0; i < 8 && cluster.rotation.phase() != Rotation::Phase::idle; ++i) {
        cluster.all_ready();
        cluster.drained_exit();
    }
    CHECK(cluster.rotation.phase() == Rotation::Phase::idle);
    CHECK(spares_of(cluster).size() == 2);
    CHECK(cluster.ready_on(3) == 4);
}

TEST_CASE("stopping starts no spare and promotes none", "[supervisor][rotation][spares]") {
    FakeCluster cluster(6);
    (void)cluster.send(ev::Start{2, 1});
    cluster.all_ready();
    (void)cluster.send(ev::StopAsked{});
    const auto died = cluster.exit(serving_of(cluster).at(0));
    CHECK_FALSE(FakeCluster::has(died, Kind::promote));
    CHECK_FALSE(FakeCluster::has(died, Kind::spawn_spare));
    CHECK(FakeCluster::has(died, Kind::release));
}

TEST_CASE("a spare in backoff does not hold a reload up: it is discarded and a new spare starts",
          "[supervisor][rotation][spares]") {
    FakeCluster cluster(8);
    (void)cluster.send(ev::Start{2, 1});
    cluster.all_ready();
    const unsigned spare = spares_of(cluster).at(0);
    cluster.views[spare].state = S::backoff;  // its worker died young; the restart policy waits
    REQUIRE(FakeCluster::has(cluster.send(ev::ReloadAsked{}), Kind::load_configuration));
    const auto first = cluster.send(ev::ConfigurationAccepted{2, 1});
    CHECK(slot_of(first, Kind::discard) == spare);
    CHECK(FakeCluster::has(first, Kind::spawn_spare));
    cluster.settle_until(Outcome::reload_complete);
    CHECK(cluster.logged(Outcome::reload_complete));
    CHECK(cluster.ready_on(2) == 3);
}

TEST_CASE("a serving worker that dies during a reload before the new spare is ready is restarted and the reload completes",
          "[supervisor][rotation][spares]") {
    FakeCluster cluster(8);
    (void)cluster.send(ev::Start{2, 1});
    cluster.all_ready();
    REQUIRE(FakeCluster::has(cluster.send(ev::ReloadAsked{}), Kind::load_configuration));
    (void)cluster.send(ev::ConfigurationAccepted{2, 1});
    // The new spare is starting; a serving worker dies: no ready spare, the restart policy refills it.
    const auto died = cluster.exit(serving_of(cluster).at(0));
    CHECK_FALSE(FakeCluster::has(died, Kind::promote));
    cluster.settle_until(Outcome::reload_complete);
    CHECK(cluster.logged(Outcome::reload_complete));
    CHECK(cluster.ready_on(2) == 3);
}
