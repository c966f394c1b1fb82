// The Supervisor's side of the control socket (control_socket.hpp): each
// command becomes the same rotation event a signal would, and the waiting
// connection is answered with the outcome the rotation reports for it.
//
// Which outcome answers which request: a request is "asking" while its own
// event is handled, so what the rotation reports at once (refused, queued,
// already in progress) is its answer alone. Afterwards it waits, with the
// running command of its kind or, if it was queued, with the queued one,
// which becomes the running one when it starts.
#include <spdlog/spdlog.h>

#include <charconv>
#include <sstream>

#include "common/monotonic.hpp"
#include "common/scoreboard_snapshot.hpp"
#include "common/status_report.hpp"
#include "supervisor/supervisor.hpp"

namespace clusterd::supervisor {
namespace {

bool is_reload(Outcome outcome) {
    return outcome == Outcome::reload_queued || outcome == Outcome::reload_complete ||
           outcome == Outcome::reload_refused || outcome == Outcome::reload_failed;
}

bool is_upgrade(Outcome outcome) {
    return outcome == Outcome::upgrade_queued || outcome == Outcome::upgrade_complete ||
           outcome == Outcome::upgrade_failed;
}

}  // namespace

void Supervisor::on_control_command(ControlSocket::RequestId id, const std::string& line) {
    std::istringstream words(line);
    std::string verb;
    std::string option;
    words >> verb >> option;
    const bool no_wait = option == "no-wait";
    spdlog::info("control socket: {}", line);
    if (verb == "status") {
        ClusterSnapshot snapshot = take_snapshot(segment_, monotonic_ms());
        snapshot.fault_injection = config_.fault_injection;
        control_->write(id, option == "json" ? status_json(snapshot, {}, executor_counts(config_)) : status_table(snapshot));
        control_->finish(id, true, "");
        return;
    }
    if (verb == "stop") {
        stop_waiters_.push_back(id);
        if (phase_ == Phase::running) begin_graceful_stop("clusterd stop");
        if (no_wait && control_) control_->finish(id, true, "stopping");
        return;
    }
    if (verb == "scale") {
        unsigned wanted = 0;
        const auto [end, ec] = std::from_chars(option.data(), option.data() + option.size(), wanted);
        if (ec != std::errc{} || end != option.data() + option.size() || wanted == 0) {
            control_->finish(id, false, "scale needs a number of workers, e.g. 'clusterd scale 4'");
        } else if (loops_ > 1) {
            control_->finish(id, false, "with --model=threads the worker process's loops are fixed at start");
        } else if (wanted + 1 > segment_.http_slots()) {
            control_->finish(id, false, "this instance has slots for " + std::to_string(segment_.http_slots() - 1) +
                                            " workers at most");
        } else {
            scale_waiters_.push_back(id);
            segment_.header().workers = wanted;
            rotate(rotation_event::ScaleAsked{wanted});
        }
        return;
    }
    if (verb != "reload" && verb != "upgrade") {
        control_->finish(id, false, "unknown command '" + verb + "' (reload, upgrade, stop, status, scale N)");
        return;
    }
    asking_ = Asking{id, verb == "reload", no_wait, false};
    rotate(verb == "reload" ? RotationEvent{rotation_event::ReloadAsked{}} : RotationEvent{rotation_event::UpgradeAsked{}});
    const Asking asked = *asking_;
    asking_.reset();
    if (asked.answered) return;
    if (no_wait) {
        control_->finish(id, true, verb + " started");
        return;
    }
    (asked.reload ? reload_waiters_ : upgrade_waiters_).running.push_back(id);
}

// The queued command of a kind starts: its waiters wait for its outcome now.
void Supervisor::promote_queued(bool reload) {
    Waiters& waiters = reload ? reload_waiters_ : upgrade_waiters_;
    waiters.running.insert(waiters.running.end(), waiters.queued.begin(), waiters.queued.end());
    waiters.queued.clear();
}

void Supervisor::answer_control(Outcome outcome, const std::string& why) {
    if (!control_) return;
    const auto answer_all = [&](std::vector<ControlSocket::RequestId>& ids, bool ok) {
        for (auto id : ids) control_->finish(id, ok, why);
        ids.clear();
    };
    if (outcome == Outcome::scaled) answer_all(scale_waiters_, true);
    if (!is_reload(outcome) && !is_upgrade(outcome)) return;
    Waiters& waiters = is_reload(outcome) ? reload_waiters_ : upgrade_waiters_;
    const bool queued = outcome == Outcome::reload_queued || outcome == Outcome::upgrade_queued;
    const bool ok = outcome == Outcome::reload_complete || outcome == Outcome::upgrade_complete;
    if (asking_ && !asking_->answered && asking_->reload == is_reload(outcome)) {
        asking_->answered = true;
        if (queued && asking_->no_wait) {
            control_->finish(asking_->id, true, why);
        } else if (queued) {
            waiters.queued.push_back(asking_->id);  // its answer is the queued one's outcome
        } else {
            control_->finish(asking_->id, ok, why);
        }
        return;
    }
    if (queued) return;
    answer_all(waiters.running, ok);
    if (phase_ != Phase::running) answer_all(waiters.queued, false);  // stopping: they will never run
}

}  // namespace clusterd::supervisor
