#include "supervisor/admin_worker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>

namespace clusterd::supervisor {

namespace {

// The admin process's --slot: it owns none (worker/admin_worker.cpp ignores it).
constexpr unsigned no_slot = 0;

}  // namespace

AdminWorker::AdminWorker(uv_loop_t* loop, ListenSocket socket, std::string executable, SegmentFds segment,
                         std::function<void()> on_gone)
    : loop_(loop),
      socket_(std::move(socket)),
      executable_(std::move(executable)),
      segment_(segment),
      on_gone_(std::move(on_gone)) {
    uv_timer_init(loop_, &restart_timer_);
    restart_timer_.data = this;
}

AdminWorker::~AdminWorker() = default;

void AdminWorker::start(const std::string& accepted_config, const Policy& policy) {
    accepted_config_ = accepted_config;
    policy_ = policy;
    next_backoff_ = policy_.backoff_initial;
    current_ = spawn_one();
}

void AdminWorker::replace(const std::string& accepted_config, const Policy& policy) {
    accepted_config_ = accepted_config;
    policy_ = policy;
    if (stopping_) return;
    if (current_.process == nullptr) {
        // Dead and waiting out a backoff: the next start uses the new configuration.
        return;
    }
    if (successor_.process != nullptr) leave(successor_);  // a reload overtaken by another
    successor_ = spawn_one();
}

void AdminWorker::stop() {
    if (stopping_) return;
    stopping_ = true;
    uv_timer_stop(&restart_timer_);
    if (successor_.process != nullptr) leave(successor_);
    if (current_.process != nullptr) leave(current_);
}

void AdminWorker::kill_now() {
    stop();
    for (auto& leaving : leaving_) leaving.process->kill(SIGKILL);
}

void AdminWorker::close() {
    if (closed_) return;
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&restart_timer_), nullptr);
}

AdminWorker::Running AdminWorker::spawn_one() {
    SpawnRequest request{executable_, accepted_config_, "admin", no_slot, ++generation_, {socket_.fd.get()},
                         {}, {}, segment_, policy_.run_as};
    auto spawned = WorkerProcess::spawn(loop_, request, *this);
    if (auto* error = std::get_if<int>(&spawned)) {
        spdlog::error("the admin worker for {} could not be started: {}; retrying in {}", socket_.address,
                      uv_strerror(*error), format_duration(next_backoff_));
        uv_timer_start(&restart_timer_, on_restart_timer, static_cast<std::uint64_t>(next_backoff_.count()), 0);
        next_backoff_ = std::min(next_backoff_ * 2, policy_.backoff_max);
        return {};
    }
    started_at_ = std::chrono::steady_clock::now();
    return {std::get<WorkerProcess*>(spawned), generation_};
}

void AdminWorker::leave(Running& running) {
    running.process->kill(SIGTERM);  // the worker's SIGTERM is a drain: in-flight scrapes are answered
    leaving_.push_back(running);
    running = {};
}

void AdminWorker::on_restart_timer(uv_timer_t* timer) {
    auto* self = static_cast<AdminWorker*>(timer->data);
    if (self->stopping_ || self->current_.process != nullptr) return;
    self->current_ = self->spawn_one();
}

void AdminWorker::on_worker_ready(unsigned, std::uint64_t generation) {
    if (generation == current_.generation && current_.process != nullptr) {
        spdlog::info("admin worker (pid {}) serves /metrics, /status, /healthz and /readyz on {}",
                     current_.process->pid(), socket_.address);
        return;
    }
    if (generation == successor_.generation && successor_.process != nullptr) {
        spdlog::info("admin worker (pid {}) took over {}; its predecessor drains", successor_.process->pid(),
                     socket_.address);
        if (current_.process != nullptr) leave(current_);
        current_ = successor_;
        successor_ = {};
    }
}

void AdminWorker::on_worker_exit(unsigned, std::uint64_t generation, ExitInfo exit) {
    // The process object deletes itself; only our pointer to it goes here.
    const auto gone = std::find_if(leaving_.begin(), leaving_.end(),
                                   [generation](const Running& r) { return r.generation == generation; });
    if (gone != leaving_.end()) {
        leaving_.erase(gone);
    } else if (generation == successor_.generation) {
        successor_ = {};
        spdlog::error("the reload's admin worker {} before it was ready; the previous one keeps serving {}",
                      describe(exit), socket_.address);
    } else if (generation == current_.generation) {
        current_ = {};
        const auto lived = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started_at_);
        if (lived >= policy_.min_uptime) next_backoff_ = Millis{0};
        spdlog::error("admin worker on {} {} after {}; {}", socket_.address, describe(exit), format_duration(lived),
                      stopping_                    ? "not replaced: stopping"
                      : next_backoff_.count() == 0 ? "starting another"
                                                   : "starting another in " + format_duration(next_backoff_));
        if (!stopping_) {
            uv_timer_start(&restart_timer_, on_restart_timer, static_cast<std::uint64_t>(next_backoff_.count()), 0);
            next_backoff_ = std::clamp(next_backoff_ * 2, policy_.backoff_initial, policy_.backoff_max);
        }
    }
    if (!running()) on_gone_();
}

}  // namespace clusterd::supervisor
