#include "supervisor/supervisor.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <csignal>

#include "common/exit_codes.hpp"
#include "common/log_file_sink.hpp"
#include "common/log_prefix.hpp"
#include "supervisor/worker_log_line.hpp"
#include "common/monotonic.hpp"

namespace clusterd::supervisor {
namespace {

// The signal table: what each signal means to an operator (nginx's signals[]).
struct SignalVerb {
    int signal;
    const char* verb;
};
constexpr std::array<SignalVerb, 6> signal_table{{
    {SIGTERM, "graceful stop"},
    {SIGINT, "graceful stop"},
    {SIGQUIT, "immediate stop"},
    {SIGHUP, "reload"},
    {SIGUSR1, "reopen logs"},
    {SIGUSR2, "binary upgrade"},
}};

double seconds_since(SteadyTime start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void ignore_close(uv_handle_t*) {}

sigset_t operator_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (const auto& entry : signal_table) sigaddset(&set, entry.signal);
    return set;
}

// The slots that carry an HTTP worker process: what the rotation rotates.
std::vector<unsigned> http_process_slots(const Slots& slots) {
    std::vector<unsigned> out;
    for (unsigned i = 0; i < slots.size(); ++i) {
        if (slots[i].role == SlotRole::http) out.push_back(i);
    }
    return out;
}

// How often the rotation compares wanted and actual.
constexpr std::uint64_t reconcile_period_ms = 1000;

std::string executable_path() {
    char path[4096];
    std::size_t size = sizeof path;
    if (uv_exepath(path, &size) != 0) return "/proc/self/exe";
    return std::string(path, size);
}

}  // namespace

Supervisor::Supervisor(Config config, std::vector<ListenSocket> listen, ShmSegment& segment, UniqueFd upgrade_ready,
                       std::optional<BoundControlSocket> control, std::optional<ListenSocket> admin,
                       std::optional<child::Identity> run_as)
    : config_(std::move(config)),
      loops_(config_.model == ServingModel::threads ? config_.workers : 1),
      listen_(std::move(listen)),
      segment_(segment),
      worker_logs_(segment, config_.log_file),
      worker_commands_(segment),
      executable_(executable_path()),
      policy_(restart_policy_of(config_)),
      slots_(segment.http_slots(), segment.slot_count() - segment.http_slots(), loops_),
      rotation_(http_process_slots(slots_), slots_.size()),
      processes_(slots_.size(), nullptr),
      slot_timers_(std::make_unique<SlotTimer[]>(slots_.size())),
      jobs_(segment.jobs()),
      notifier_(Notifier::from_environment()),
      upgrade_ready_(std::move(upgrade_ready)),
      run_as_(run_as) {
    uv_loop_init(&loop_);
    create_result_wakeups();
    if (config_.exec_mode()) {
        exec_slots_.resize(slots_.size());
    }
    for (unsigned i = 0; i < slots_.size(); ++i) {
        uv_timer_init(&loop_, &slot_timers_[i].timer);
        slot_timers_[i].owner = this;
        slot_timers_[i].slot = i;
        slot_timers_[i].timer.data = &slot_timers_[i];
    }
    for (std::size_t i = 0; i < signal_table.size(); ++i) {
        uv_signal_init(&loop_, &signals_[i]);
        signals_[i].data = this;
        uv_signal_start(&signals_[i], on_signal, signal_table[i].signal);
    }
    // Handled now: what arrived while they were held is delivered to the
    // handlers above and acted on once the loop runs.
    const sigset_t held = operator_signals();
    sigprocmask(SIG_UNBLOCK, &held, nullptr);
    uv_timer_init(&loop_, &shutdown_deadline_);
    shutdown_deadline_.data = this;
    uv_timer_init(&loop_, &drain_delay_);
    drain_delay_.data = this;
    uv_timer_init(&loop_, &watchdog_);
    watchdog_.data = this;
    uv_timer_init(&loop_, &systemd_ping_);
    systemd_ping_.data = this;
    uv_timer_init(&loop_, &upgrade_deadline_);
    upgrade_deadline_.data = this;
    uv_timer_init(&loop_, &reconcile_);
    reconcile_.data = this;
    if (control) {
        control_ = std::make_unique<ControlSocket>(
            &loop_, std::move(*control),
            [this](ControlSocket::RequestId id, const std::string& line) { on_control_command(id, line); });
    }
    if (admin) {
        admin_ = std::make_unique<AdminWorker>(&loop_, std::move(*admin), executable_,
                                               segment_.child_fds(ShmSegment::Access::read_only),
                                               [this] { finish_if_stopped(); });
    }
    if (config_.fork_server && !config_.exec_mode()) {
        orphans_ = std::make_unique<OrphanReaper>(&loop_);
        fork_server_ = std::make_unique<ForkServer>(
            &loop_, executable_, ForkServer::Policy{child_identity(), config_.backoff_initial, config_.backoff_max});
    }
    slots_.on_transition([this](const Slot& slot) {
        publish_slot(slot);
        notify_status();
        // Every drain has a deadline, whatever asked for it and whatever its
        // clients do: a reload must never wait on a client that stopped
        // reading. (A stop has its own, for the whole cluster.)
        if (slot.state == SlotState::draining && phase_ == Phase::running) {
            uv_timer_stop(&slot_timers_[slot.index].timer);
            uv_timer_start(&slot_timers_[slot.index].timer, on_slot_timer,
                           static_cast<std::uint64_t>(config_.shutdown_timeout.count()), 0);
        }
    });
    // Workers inherit our environment; only the supervisor may speak for the service.
    ::unsetenv("NOTIFY_SOCKET");
}

Supervisor::~Supervisor() {
    // run() closes every handle before it returns; the loop must be empty here.
    if (uv_loop_close(&loop_) != 0) spdlog::error("BUG: supervisor loop closed with handles still open");
}

int Supervisor::run() {
    warn_if_fault_injection();
    if (loops_ > 1) {
        spdlog::info("serving model threads: one worker process with {} event-loop threads", loops_);
    }
    if (config_.exec_mode()) {
        spdlog::info("starting {} workers running '{}' (pid {}; ready on {})", config_.workers,
                     escape_control_characters(fmt::format("{}", fmt::join(config_.exec, " "))), getpid(),
                     config_.ready_delay.count() > 0 ? "a delay of " + format_duration(config_.ready_delay)
                                                     : std::string("READY=1"));
    } else if (jobs_) {
        spdlog::info("starting {} workers and {} compute processes (pid {})", config_.workers,
                     slots_.size() - segment_.http_slots(), getpid());
    } else {
        spdlog::info("starting {} workers, compute on {} (pid {})", config_.workers, to_string(config_.compute),
                     getpid());
    }
    if (notifier_.enabled()) spdlog::info("systemd notify socket: {}", notifier_.socket());
    start_systemd_watchdog();
    if (config_.spares > 0) {
        spdlog::info("{} hot spare{}: started and ready, not accepting until a serving worker leaves",
                     config_.spares, config_.spares == 1 ? "" : "s");
    }
    // Started first, but not waited for: until it is ready, workers start by exec.
    if (fork_server_) fork_server_->start();
    rotate(rotation_event::Start{config_.workers / loops_, config_.spares});
    manage_compute();
    if (admin_) admin_->start(config_.accepted, admin_policy());
    arm_watchdog();
    uv_timer_start(&reconcile_, on_reconcile, reconcile_period_ms, reconcile_period_ms);
    uv_run(&loop_, UV_RUN_DEFAULT);
    spdlog::info("stopped: every worker has exited");
    return exit_code::ok;
}

// The watchdog checks heartbeats, compute deadlines and memory four times per
// the shortest of their timeouts, so each is caught within 1.25x of it; with
// none of them configured it does not run. Called again on every reload.
void Supervisor::arm_watchdog() {
    uv_timer_stop(&watchdog_);
    if (config_.hang_timeout.count() == 0 && !jobs_ && config_.max_worker_memory == 0 && !config_.exec_mode()) return;
    auto shortest = jobs_ ? config_.compute_timeout.count() : config_.hang_timeout.count();
    if (config_.hang_timeout.count() > 0) shortest = std::min(shortest, config_.hang_timeout.count());
    if (config_.exec_mode()) {
        // Start deadlines and --ready=delay are judged on this tick too.
        const auto start = config_.ready_delay.count() > 0 ? config_.ready_delay.count() : config_.start_timeout.count();
        shortest = shortest == 0 ? start : std::min(shortest, start);
    }
    if (shortest == 0) shortest = 4000;  // only --max-worker-memory to check: once a second
    const auto period = static_cast<std::uint64_t>(std::clamp<std::int64_t>(shortest / 4, 20, 1000));
    uv_timer_start(&watchdog_, on_watchdog, period, period);
}

void Supervisor::hold_signals_until_handled() {
    const sigset_t held = operator_signals();
    sigprocmask(SIG_BLOCK, &held, nullptr);
}

void Supervisor::on_signal(uv_signal_t* handle, int signal) {
    static_cast<Supervisor*>(handle->data)->handle_signal(signal);
}

void Supervisor::handle_signal(int signal) {
    const char* verb = "unknown";
    for (const auto& entry : signal_table) {
        if (entry.signal == signal) verb = entry.verb;
    }
    spdlog::info("{} received: {}", signal_name(signal), verb);
    switch (signal) {
        case SIGTERM:
        case SIGINT:
            // A second TERM/INT while draining (Ctrl-C twice) means "now";
            // during --drain-delay it means "drain now".
            if (phase_ == Phase::running && delayed_stop_why_ == nullptr && config_.drain_delay.count() > 0) {
                announce_stop(verb);
            } else if (phase_ == Phase::running) {
                begin_graceful_stop(verb);
            } else {
                begin_immediate_stop("second stop signal");
            }
            return;
        case SIGQUIT:
            begin_immediate_stop(verb);
            return;
        case SIGHUP:
            rotate(rotation_event::ReloadAsked{});
            return;
        case SIGUSR2:
            rotate(rotation_event::UpgradeAsked{});
            return;
        case SIGUSR1:
            reopen_logs();
            return;
        default:
            return;
    }
}

// Workers log through the supervisor, so only its files need reopening; the
// command still goes out, for anything a worker may open itself one day.
void Supervisor::reopen_logs() {
    if (config_.log_file.empty()) {
        spdlog::info("logs go to stderr; nothing to reopen");
    } else if (const int reopened = reopen_log_files(); reopened >= 0) {
        spdlog::info("reopened the log file {}", config_.log_file);
    }
    for (auto& slot : slots_) {
        if (slot.state == SlotState::ready && slot.role == SlotRole::http) {
            command_worker(slot.index, Command::reopen_logs, SIGUSR1);
        }
    }
}

// Kubernetes removes a terminating pod's endpoints concurrently with its
// SIGTERM: for --drain-delay the workers keep accepting and serving while
// /readyz fails, so nothing is refused while the load balancers catch up.
void Supervisor::announce_stop(const char* why) {
    delayed_stop_why_ = why;
    spdlog::info("drain delay: /readyz answers 503 for {} while the workers keep serving; then they drain",
                 format_duration(config_.drain_delay));
    for (auto& slot : slots_) {
        if (slot.role == SlotRole::http && slot.state == SlotState::ready) {
            command_worker(slot.index, Command::unready, 0);
        }
    }
    uv_timer_start(&drain_delay_, on_drain_delay, static_cast<std::uint64_t>(config_.drain_delay.count()), 0);
}

void Supervisor::on_drain_delay(uv_timer_t* timer) {
    auto* self = static_cast<Supervisor*>(timer->data);
    if (self->phase_ == Phase::running) self->begin_graceful_stop(self->delayed_stop_why_);
}

void Supervisor::begin_graceful_stop(const char* why) {
    phase_ = Phase::stopping_gracefully;
    uv_timer_stop(&drain_delay_);
    rotate(rotation_event::StopAsked{});
    // Handing over to a new binary is no stop of the service.
    if (!handing_over_) notifier_.stopping();
    if (upgrade_ != nullptr) {
        spdlog::warn("stopping during a binary upgrade: the new supervisor (pid {}) is stopped too", upgrade_->pid());
        upgrade_->kill(SIGTERM);
        upgrade_->release();
        upgrade_ = nullptr;
    }
    notify_status();
    // Close our copy of the listening socket first: once the workers close
    // theirs, new connections are refused instead of queueing for nobody.
    listen_.clear();
    unsigned draining = 0;
    for (auto& slot : slots_) {
        // Compute processes keep running the jobs of draining HTTP workers;
        // they are drained once the last HTTP worker is gone.
        if (slot.role != SlotRole::http) continue;
        uv_timer_stop(&slot_timers_[slot.index].timer);
        switch (slot.state) {
            case SlotState::starting:
            case SlotState::ready:
                slots_.transition(slot.index, SlotState::draining, why);
                command_worker(slot.index, Command::drain, SIGTERM);
                ++draining;
                break;
            case SlotState::backoff:
            case SlotState::failed:
            case SlotState::exited:  // waiting to restart as the next hot spare (restart_as_spare)
                slots_.transition(slot.index, SlotState::empty, why);
                break;
            case SlotState::empty:
            case SlotState::draining:
                break;
        }
    }
    spdlog::info("stopping: draining {} workers, deadline {}", draining, format_duration(config_.shutdown_timeout));
    uv_timer_start(&shutdown_deadline_, on_shutdown_deadline, static_cast<std::uint64_t>(config_.shutdown_timeout.count()), 0);
    finish_if_stopped();
}

void Supervisor::begin_immediate_stop(const char* why) {
    if (phase_ == Phase::running) begin_graceful_stop(why);
    phase_ = Phase::stopping_now;
    spdlog::info("stopping now: killing every worker");
    for (auto* process : processes_) {
        if (process != nullptr) process->kill(SIGKILL);
    }
    if (admin_) admin_->kill_now();
}

void Supervisor::on_shutdown_deadline(uv_timer_t* timer) {
    auto* self = static_cast<Supervisor*>(timer->data);
    for (auto& slot : self->slots_) {
        if (auto* process = self->processes_[slot.index]) {
            spdlog::warn("{} {} (pid {}) still busy after the shutdown timeout; killing it", self->noun(slot.index),
                         slot.index, process->pid());
            process->kill(SIGKILL);
        }
    }
    if (self->admin_ && self->admin_->running()) {
        spdlog::warn("the admin worker is still busy after the shutdown timeout; killing it");
        self->admin_->kill_now();
    }
}

AdminWorker::Policy Supervisor::admin_policy() const {
    return {config_.min_uptime, config_.backoff_initial, config_.backoff_max, child_identity()};
}

std::optional<child::Identity> Supervisor::child_identity() const {
    if (!run_as_) return std::nullopt;
    child::Identity identity = *run_as_;
    // A core needs a dumpable process; --core-on-hang would be pointless without one.
    identity.dumpable = config_.core_dumps || config_.core_on_hang;
    return identity;
}

// Every compute slot occupied (the HTTP slots are the rotation's).
void Supervisor::manage_compute() {
    if (phase_ != Phase::running) return;
    for (auto& slot : slots_) {
        if (slot.state == SlotState::empty && slot.role == SlotRole::compute) spawn_worker(slot.index);
    }
}

std::vector<int> Supervisor::listen_fds() const {
    std::vector<int> fds;
    for (const auto& socket : listen_) fds.push_back(socket.fd.get());
    return fds;
}

SpawnRequest Supervisor::spawn_request(const Slot& slot) {
    SpawnRequest request{executable_, config_.accepted, "worker", slot.index, slot.generation, listen_fds(), {}, {}, {},
                         child_identity()};
    if (slot.role == SlotRole::compute) {
        request.role = "compute";
        request.listen_fds.clear();
        for (const auto& fd : result_wakeups_) request.result_fds.push_back(fd.get());
    } else if (!result_wakeups_.empty()) {
        // One per loop, in loop order (common/child_contract.hpp).
        for (unsigned l = 0; l < loops_of(slot.index); ++l) {
            request.result_fds.push_back(result_wakeups_[slot.index + l].get());
        }
    }
    request.exec = exec_spec(slot);
    if (!request.exec) request.segment = segment_.child_fds(ShmSegment::Access::read_write);
    request.spare = slot.role == SlotRole::http && rotation_.spare(slot.index);
    if (slot.role == SlotRole::http && !request.exec) request.fork_server = fork_server_.get();
    return request;
}

void Supervisor::spawn_worker(unsigned index) {
    if (!slots_.transition(index, SlotState::starting, "spawn")) return;  // logged as a BUG
    Slot& slot = slots_[index];
    slot.generation += 1;
    slot.config_generation = rotation_.generation();
    slot.started_at = std::chrono::steady_clock::now();
    slot.was_ready = false;
    slot.pid = 0;
    slot.kill_reason = nullptr;
    slot.over_memory_limit = false;
    slot.stopped_since_ms = 0;
    worker_logs_.reset(index);
    worker_commands_.reset(index);
    // Before the spawn: a fast worker writes its first heartbeat before
    // uv_spawn returns, and a start time after it would look impossible.
    const auto started_ms = monotonic_ms();
    slot.started_ms = started_ms;
    for (unsigned l = 0; l < loops_of(index); ++l) {
        segment_.slot(index + l).started_ms.store(started_ms, std::memory_order_relaxed);
        // No process writes this slot now: clear the claim, so whatever a
        // scribbler left there is not judged as the new worker's before it
        // claims the slot itself (a slow start, under ASan, was killed so).
        segment_.slot(index + l).worker_generation.store(0, std::memory_order_release);
    }
    auto result = WorkerProcess::spawn(&loop_, spawn_request(slot), *this);
    if (auto* error = std::get_if<int>(&result)) {
        ExitInfo exit = ExitInfo::spawn_failed(*error);
        spdlog::error("{} {} {}", noun(index), index, describe(exit));
        segment_.header().stats.spawn_failures.fetch_add(1, std::memory_order_relaxed);
        slots_.transition(index, SlotState::exited, "spawn failed");
        handle_death(index, exit);
        return;
    }
    processes_[index] = std::get<WorkerProcess*>(result);
    slot.pid = processes_[index]->pid();
    if (config_.exec_mode() && is_http(index)) begin_exec_slot(index);
    worker_logs_.owned_by(index, is_http(index) ? worker_log_noun : compute_log_noun, slot.pid);
    for (unsigned l = 0; l < loops_of(index); ++l) {
        ScoreboardSlot& board = segment_.slot(index + l);
        board.generation.store(slot.generation, std::memory_order_relaxed);
        board.pid.store(slot.pid, std::memory_order_relaxed);
        board.rss_bytes.store(0, std::memory_order_relaxed);  // the next sample is this process's
        board.cpu_ms.store(0, std::memory_order_relaxed);
        board.program_status.write(ProgramStatus{});
        board.spare.store(rotation_.spare(index) && is_http(index) ? 1 : 0, std::memory_order_relaxed);
        if (slot.generation > 1) board.restarts.fetch_add(1, std::memory_order_relaxed);
    }
    spdlog::info("{} {} (pid {}{}) started{}, generation {}{}", noun(index), index, slot.pid, loops_note(index),
                 processes_[index]->forked() ? " by the fork server" : "", slot.generation,
                 is_http(index) && rotation_.spare(index) ? " (hot spare)" : "");
}

void Supervisor::on_worker_log(unsigned index, std::uint64_t generation) {
    if (!is_current(index, generation)) return;
    worker_logs_.drain(index);
    // The same wake-up carries a worker's request to be recycled.
    if (is_http(index)) check_recycle_request(index);
}

void Supervisor::command_worker(unsigned index, Command command, int fallback_signal) {
    WorkerProcess* process = processes_[index];
    if (process == nullptr) return;
    if (config_.exec_mode() && is_http(index)) {
        // A program has no command ring: it is asked to leave by signal, and
        // has nothing to reopen (its output goes through our log).
        if (command == Command::drain) process->kill(config_.stop_signal);
        return;
    }
    if (worker_commands_.send(index, command)) {
        process->wake_for_commands();
    } else if (fallback_signal == 0) {  // no signal means the same (unready)
        spdlog::warn("worker {} (pid {}): command ring refused the command, and no signal stands in for it", index,
                     process->pid());
    } else {
        spdlog::warn("worker {} (pid {}): command ring refused the command; sending {}", index, process->pid(),
                     signal_name(fallback_signal));
        process->kill(fallback_signal);
    }
}

bool Supervisor::is_current(unsigned slot, std::uint64_t generation) const {
    return slot < slots_.size() && slots_[slot].generation == generation;
}

void Supervisor::on_worker_ready(unsigned index, std::uint64_t generation) {
    if (!is_current(index, generation) || slots_[index].state != SlotState::starting) return;
    Slot& slot = slots_[index];
    slots_.transition(index, SlotState::ready, "reported ready");
    slot.was_ready = true;
    // A replacement that becomes ready during --drain-delay is not ready for new clients either.
    if (delayed_stop_why_ != nullptr && is_http(index)) command_worker(index, Command::unready, 0);
    auto ms = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - slot.started_at);
    spdlog::info("{} {} (pid {}) ready in {:.1f} ms{}", noun(index), index, slot.pid,
                 static_cast<double>(ms.count()) / 1000.0,
                 is_http(index) && rotation_.spare(index) ? " (hot spare, not accepting)" : "");
    if (is_http(index)) rotate(rotation_event::Ready{index});
    if (slot.replacing_since) {
        // Death of the predecessor to readiness of this one: the capacity gap.
        const auto gap = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                                *slot.replacing_since);
        auto& stats = segment_.header().stats;
        const auto us = static_cast<std::uint64_t>(gap.count());
        stats.restart_latency_count.fetch_add(1, std::memory_order_relaxed);
        stats.restart_latency_us_sum.fetch_add(us, std::memory_order_relaxed);
        if (us > stats.restart_latency_us_max.load(std::memory_order_relaxed)) {
            stats.restart_latency_us_max.store(us, std::memory_order_relaxed);
        }
        slot.replacing_since.reset();
    }
    if (fully_ready()) {
        if (loops_ > 1) {
            spdlog::info("all {} workers ready (the event-loop threads of one worker process)", loops_);
        } else {
            spdlog::info("all {} workers ready", rotation_.wanted());
        }
        // systemd takes the first READY=1 as "started"; later ones are harmless.
        if (!was_fully_ready_) notifier_.ready();
        report_upgrade_ready(upgrade_ready_);  // no-op unless a binary upgrade started us
        was_fully_ready_ = true;
    }
}

bool Supervisor::fully_ready() const {
    unsigned http_ready = 0;
    for (unsigned i = 0; i < slots_.size(); ++i) {
        const Slot& slot = slots_[i];
        if (slot.role == SlotRole::compute && slot.state != SlotState::ready) return false;
        if (slot.role == SlotRole::http && slot.state == SlotState::ready && !rotation_.retiring(i) &&
            !rotation_.spare(i)) {
            ++http_ready;  // spares count once promoted
        }
    }
    return http_ready >= rotation_.wanted();
}

void Supervisor::on_worker_exit(unsigned index, std::uint64_t generation, ExitInfo exit) {
    if (!is_current(index, generation)) {
        spdlog::error("BUG: exit of an unknown worker {} generation {}", index, generation);
        return;
    }
    Slot& slot = slots_[index];
    processes_[index] = nullptr;
    worker_logs_.drain(index);  // its last words come before the news of its death
    // Before anything else: jobs it held must not stay claimed by a dead process.
    repair_job_ring(index, generation);
    const bool expected = slot.state == SlotState::draining;
    const auto level = expected && (exit.clean() || phase_ == Phase::stopping_now) ? spdlog::level::info
                                                                                      : spdlog::level::warn;
    const std::string doing = exit.clean() ? "" : what_it_was_doing(index);
    const std::string killed_for = slot.kill_reason ? std::string(" (killed: ") + slot.kill_reason + ")" : "";
    spdlog::log(level, "{} {} (pid {}{}) {} after {:.1f} s{}{}", noun(index), index, slot.pid, loops_note(index),
                describe(exit), seconds_since(slot.started_at), killed_for, expected ? " (draining)" : doing);
    if (loops_of(index) > 1 && !expected) {
        spdlog::warn("worker process {}: all {} event loops lost with it (slots {}..{})", index, loops_of(index),
                     index, index + loops_of(index) - 1);
    }
    if (slot.role == SlotRole::http && !expected && !exit.clean()) count_lost_connections(index);
    count_death(exit);
    if (!expected) count_restart(slot.was_ready ? RestartStat::died_after_ready : RestartStat::died_before_ready);
    if (!is_http(index) && !expected) {
        segment_.header().stats.compute_process_deaths.fetch_add(1, std::memory_order_relaxed);
    }
    ExitNote note;
    fmt::format_to_n(note.text, sizeof note.text - 1, "{} after {:.1f} s{}{}", describe(exit),
                     seconds_since(slot.started_at), killed_for, doing);
    for (unsigned l = 0; l < loops_of(index); ++l) segment_.slot(index + l).last_exit.write(note);
    if (!expected && !exit.clean()) {
        last_problem_ = fmt::format("{} {} (pid {}) {}", noun(index), index, slot.pid, note.text);
    }
    slots_.transition(index, SlotState::exited, describe(exit));
    slot.pid = 0;
    slot.last_exit = exit;
    for (unsigned l = 0; l < loops_of(index); ++l) segment_.slot(index + l).pid.store(0, std::memory_order_relaxed);
    if (is_http(index)) {
        rotate(rotation_event::Exited{index});
    } else if (phase_ != Phase::running) {
        slots_.transition(index, SlotState::empty, "stopping");
        finish_if_stopped();
    } else {
        if (!slot.replacing_since) slot.replacing_since = std::chrono::steady_clock::now();
        handle_death(index, exit);
    }
}

// ", 4 loops" for a --model=threads worker process, empty otherwise.
std::string Supervisor::loops_note(unsigned index) const {
    return loops_of(index) > 1 ? fmt::format(", {} loops", loops_of(index)) : "";
}

void Supervisor::handle_death(unsigned index, const ExitInfo& exit) {
    Slot& slot = slots_[index];
    const auto now = std::chrono::steady_clock::now();
    const auto uptime = std::chrono::duration_cast<Millis>(now - slot.started_at);
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    const Readiness readiness = slot.was_ready ? Readiness::had_been_ready : Readiness::never_ready;
    const RestartDecision decision =
        decide_restart(slot.deaths, exit, uptime, now, jitter(random_), policy_, readiness);
    auto& timer = slot_timers_[index].timer;
    switch (decision.verdict) {
        case Verdict::respawn_now:
            spdlog::info("{} {}: respawning at once ({})", noun(index), index, decision.why);
            count_restart(RestartStat::respawned_at_once);
            spawn_worker(index);
            break;
        case Verdict::back_off:
            slots_.transition(index, SlotState::backoff, decision.why);
            spdlog::warn("{} {}: backing off {} before respawn: {}", noun(index), index,
                         format_duration(decision.delay), decision.why);
            uv_timer_start(&timer, on_slot_timer, static_cast<std::uint64_t>(decision.delay.count()), 0);
            break;
        case Verdict::trip_breaker:
            slots_.transition(index, SlotState::failed, decision.why);
            segment_.header().stats.breaker_trips.fetch_add(1, std::memory_order_relaxed);
            spdlog::error("{} {}: circuit breaker tripped: {}; slot failed, one retry in {}", noun(index), index,
                          decision.why, format_duration(decision.delay));
            uv_timer_start(&timer, on_slot_timer, static_cast<std::uint64_t>(decision.delay.count()), 0);
            break;
    }
    log_capacity();
}

void Supervisor::on_slot_timer(uv_timer_t* timer) {
    auto* slot_timer = static_cast<SlotTimer*>(timer->data);
    Supervisor* self = slot_timer->owner;
    const SlotState state = self->slots_[slot_timer->slot].state;
    if (state == SlotState::exited) {
        // A slot whose place a promoted spare took: its restart, deferred (restart_as_spare).
        if (self->phase_ == Phase::running) self->handle_death(slot_timer->slot, self->slots_[slot_timer->slot].last_exit);
    } else if (state != SlotState::draining) {
        self->retry_slot(slot_timer->slot);
    } else if (self->is_http(slot_timer->slot)) {
        self->rotate(rotation_event::DrainDeadline{slot_timer->slot});
    } else {
        self->end_overdue_drain(slot_timer->slot);
    }
}

void Supervisor::end_overdue_drain(unsigned index) {
    Slot& slot = slots_[index];
    WorkerProcess* process = processes_[index];
    if (process == nullptr || slot.kill_reason != nullptr) return;
    spdlog::warn("{} {} (pid {}) is still draining {} after it was told to{}; killing it", noun(index), index,
                 slot.pid, format_duration(config_.shutdown_timeout), what_it_was_doing(index));
    slot.kill_reason = "drain deadline";
    process->kill(SIGKILL);
}

void Supervisor::retry_slot(unsigned index) {
    const SlotState state = slots_[index].state;
    if (phase_ != Phase::running || (state != SlotState::backoff && state != SlotState::failed)) return;
    count_restart(state == SlotState::failed ? RestartStat::respawned_after_cooldown
                                             : RestartStat::respawned_after_backoff);
    spawn_worker(index);
}

void Supervisor::log_capacity() const {
    if (fully_ready()) return;
    for (SlotRole role : {SlotRole::http, SlotRole::compute}) {
        const unsigned wanted = role == SlotRole::http ? rotation_.wanted() : slots_.size() - segment_.http_slots();
        const unsigned ready = role == SlotRole::http ? serving_ready() : slots_.count(role, SlotState::ready);
        if (wanted == 0 || ready >= wanted) continue;
        spdlog::warn("capacity: {}/{} {} ready ({} starting, {} backing off, {} failed)", ready, wanted,
                     role == SlotRole::http ? (loops_ > 1 ? "worker processes" : "workers") : "compute processes",
                     slots_.count(role, SlotState::starting), slots_.count(role, SlotState::backoff),
                     slots_.count(role, SlotState::failed));
    }
}

void Supervisor::finish_if_stopped() {
    if (phase_ == Phase::running) return;
    drain_compute_when_http_gone();
    if (slots_.count(SlotState::empty) != slots_.size()) return;
    // The admin worker goes last, so the drain could be watched on it.
    if (admin_) {
        admin_->stop();
        if (admin_->running()) return;  // its exit calls us again
        admin_->close();
    }
    if (fork_server_) fork_server_->close();  // it exits on its socket's EOF (or is killed)
    if (orphans_) orphans_->close();
    uv_timer_stop(&shutdown_deadline_);
    uv_close(reinterpret_cast<uv_handle_t*>(&shutdown_deadline_), ignore_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&drain_delay_), ignore_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), ignore_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&systemd_ping_), ignore_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&upgrade_deadline_), ignore_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&reconcile_), ignore_close);
    if (control_) {
        for (auto id : stop_waiters_) control_->finish(id, true, "stopped: every worker has exited");
        stop_waiters_.clear();
        control_->close();
    }
    for (unsigned i = 0; i < slots_.size(); ++i) {
        uv_close(reinterpret_cast<uv_handle_t*>(&slot_timers_[i].timer), ignore_close);
    }
    for (auto& signal : signals_) uv_close(reinterpret_cast<uv_handle_t*>(&signal), ignore_close);
}

}  // namespace clusterd::supervisor
