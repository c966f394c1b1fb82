#include "worker/worker.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "common/exit_codes.hpp"
#include "common/child_contract.hpp"
#include "common/log.hpp"
#include "common/log_prefix.hpp"
#include "common/monotonic.hpp"
#include "common/slot_state.hpp"
#include "worker/app_counters.hpp"
#include "worker/child_start.hpp"
#include "worker/compute/inline_backend.hpp"
#include "worker/compute/processes_backend.hpp"
#include "worker/compute/threads_backend.hpp"
#include "worker/fault_injection.hpp"
#include "worker/ready_report.hpp"
#include "worker/ring_log_sink.hpp"
#include "worker/task_runner.hpp"

namespace clusterd::worker {
namespace {

using child::command_wake_fd;
using child::listen_fd;

int inherited_listen_fd(unsigned index) { return child::listen_fd_for(index); }

constexpr std::array<int, 3> handled_signals{SIGTERM, SIGINT, SIGQUIT};

template <typename T>
uv_handle_t* as_handle(T* handle) {
    return reinterpret_cast<uv_handle_t*>(handle);
}

void ignore_close(uv_handle_t*) {}

// Process-wide: the first loop reads the unready command, every loop's
// /readyz answers from it (--model=threads). Set once, never cleared.
std::atomic<bool> stop_is_announced{false};
void announce_stop() { stop_is_announced.store(true, std::memory_order_relaxed); }

}  // namespace

bool Worker::stop_announced() { return stop_is_announced.load(std::memory_order_relaxed); }

Worker::Worker(const Config& config, const detail::AppModel& app, const ShmSegment* segment, LoopSetup setup)
    : config_(config),
      app_(app),
      segment_(segment),
      setup_(std::move(setup)),
      reporter_(segment != nullptr && setup_.slot < segment->slot_count() ? &segment->slot(setup_.slot) : nullptr,
                config.generation),
      counters_(config.scoreboard_counters ? reporter_ : silent_) {
    uv_loop_init(&loop_);
    deadlines_.emplace(&loop_,
                       DeadlineWheel::tick_for(std::min({config_.header_timeout, config_.idle_timeout,
                                                         config_.drain_quiet, config_.send_timeout})),
                       Connection::on_deadline);
    uv_timer_init(&loop_, &heartbeat_);
    heartbeat_.data = this;
    if (setup_.reads_commands) {
        uv_poll_init(&loop_, &command_wake_, command_wake_fd);
        command_wake_.data = this;
        if (segment_ != nullptr && setup_.slot < segment_->slot_count()) {
            commands_.emplace(segment_->rings(setup_.slot).commands);
        }
    }
    uv_timer_init(&loop_, &accept_retry_);
    accept_retry_.data = this;
    uv_async_init(&loop_, &promote_wake_, on_promote_wake);
    promote_wake_.data = this;
    if (setup_.promote_fanout != nullptr) setup_.promote_fanout->join(this);
    if (config_.worker_id_header && !setup_.admin) {
        worker_id_ = std::to_string(setup_.slot) + "-" + std::to_string(config_.generation);
    }
    for (std::size_t i = 0; i < handled_signals.size(); ++i) {
        uv_signal_init(&loop_, &signals_[i]);
        signals_[i].data = this;
        uv_signal_start(&signals_[i], on_signal, handled_signals[i]);
    }
    if (config_.max_requests > 0) {
        // Jitter per worker, so workers started together do not all leave together.
        std::uniform_int_distribution<std::uint64_t> jitter(0, config_.max_requests_jitter);
        std::mt19937_64 random(std::random_device{}());
        recycle_after_ = config_.max_requests + jitter(random);
    }
    dispatcher_ = std::make_unique<compute::Dispatcher>(
        &loop_, config_.compute_timeout, counters_.compute_counters(),
        [this](compute::CompletionSink sink) { return make_backend(std::move(sink)); });
}

// Runs the application's compute start hooks on the calling thread.
static void run_compute_hooks(const detail::AppModel& app) {
    for (const auto& hook : app.compute_hooks) hook();
}

std::unique_ptr<compute::Backend> Worker::make_backend(compute::CompletionSink sink) {
    const TaskRunner runner(app_, config_, config_.fault_injection);
    switch (config_.compute) {
        case ComputeMode::inline_loop:
            // The job blocks this loop; name it in the scoreboard so a hang
            // report says which job it was.
            return std::make_unique<compute::InlineBackend>(
                &loop_, config_.compute_queue, std::move(sink), [this, runner](const compute::Job& job) {
                    reporter_.request_started("JOB", runner.describe(job.params), monotonic_ms());
                    compute::JobOutput output = runner(job);
                    reporter_.request_idle();
                    return output;
                });
        case ComputeMode::threads: {
            std::atomic<std::uint64_t>* counters = counters_.app_counters();
            return std::make_unique<compute::ThreadsBackend>(&loop_, config_.compute_threads, config_.compute_queue,
                                                             std::move(sink), runner, [this, counters] {
                                                                 bind_app_counters(counters);
                                                                 run_compute_hooks(app_);
                                                             },
                                                             compute::scheduling_of(config_));
        }
        case ComputeMode::processes:
            break;
    }
    std::optional<JobRing> ring = segment_ != nullptr ? segment_->jobs() : std::nullopt;
    if (!ring) {
        spdlog::critical("--compute=processes, but the shared segment has no job ring");
        std::exit(exit_code::config_error);
    }
    return std::make_unique<compute::ProcessesBackend>(&loop_, *ring, setup_.slot, config_.generation,
                                                       setup_.result_wake_fd, std::move(sink));
}

Worker::~Worker() {
    if (uv_loop_close(&loop_) != 0) spdlog::error("BUG: worker loop closed with handles still open");
}

// The application's worker hooks, on this loop's thread, before it takes
// work; one that throws fails the start (exit 2: the breaker, not a loop).
bool Worker::run_start_hooks() {
    if (setup_.admin) return true;  // the application's code runs in its HTTP workers only
    bind_app_counters(counters_.app_counters());
    try {
        for (const auto& hook : app_.worker_hooks) hook();
        // Inline, this loop is the compute executor too: its hooks run here,
        // on the thread that will run the tasks.
        if (config_.compute == ComputeMode::inline_loop) run_compute_hooks(app_);
        return true;
    } catch (const std::exception& error) {
        spdlog::critical("the application's start hook threw: {}", error.what());
    } catch (...) {
        spdlog::critical("the application's start hook threw something that is not a std::exception");
    }
    return false;
}

int Worker::run() {
    if (!run_start_hooks()) {
        draining_ = true;
        finish_if_drained();
        uv_run(&loop_, UV_RUN_DEFAULT);  // lets the close callbacks run
        for (int fd : setup_.listen_fds) ::close(fd);
        return exit_code::config_error;
    }
    listeners_ = std::make_unique<Listener[]>(setup_.listen_fds.size());
    for (unsigned i = 0; i < setup_.listen_fds.size(); ++i) {
        Listener& listener = listeners_[i];
        listener.fd = setup_.listen_fds[i];
        listener.owner = this;
        if (int rc = uv_poll_init_socket(&loop_, &listener.poll, listener.fd); rc != 0) {
            spdlog::critical("uv_poll_init_socket() failed on the inherited listening socket (fd {}): {}",
                             listener.fd, uv_strerror(rc));
            listening_ = true;  // so that close_listener() closes the ones already set up
            draining_ = true;
            close_listener();
            finish_if_drained();
            uv_run(&loop_, UV_RUN_DEFAULT);  // lets the close callbacks run
            return exit_code::config_error;
        }
        listener.poll.data = &listener;
        listener_count_ = i + 1;
    }
    listening_ = true;
    // The heartbeat says "my loop turns": a timer callback runs only between
    // events, so a worker stuck in a request stops refreshing it.
    reporter_.heartbeat(monotonic_ms());
    const auto period = std::clamp<std::int64_t>(config_.hang_timeout.count() / 8, 10, 500);
    uv_timer_start(&heartbeat_, on_heartbeat, static_cast<std::uint64_t>(period), static_cast<std::uint64_t>(period));
    // A hot spare is initialised and ready, and accepts only once promoted.
    if (!config_.spare_start || setup_.admin) start_accepting();
    if (setup_.reads_commands) {
        uv_poll_start(&command_wake_, UV_READABLE, on_command_wake);
        read_commands();  // one may have been queued before we listened
    }
    if (!setup_.report_ready()) {
        begin_drain("no supervisor");
        uv_run(&loop_, UV_RUN_DEFAULT);
        return exit_code::failure;
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
    spdlog::debug("drained; exiting");
    return exit_code::ok;
}

void Worker::start_accepting() {
    if (accepting_ || !listening_ || draining_) return;
    accepting_ = true;
    for (unsigned i = 0; i < listener_count_; ++i) uv_poll_start(&listeners_[i].poll, UV_READABLE, on_listen_readable);
}

void Worker::on_promote_wake(uv_async_t* async) {
    auto* self = static_cast<Worker*>(async->data);
    if (!self->accepting_ && !self->draining_) spdlog::info("promoted: accepting now");
    self->start_accepting();
}

void Worker::on_listen_readable(uv_poll_t* poll, int status, int) {
    auto* listener = static_cast<Listener*>(poll->data);
    Worker* self = listener->owner;
    if (status < 0) {
        spdlog::error("polling the listening socket failed: {}", uv_strerror(status));
        self->pause_accepting(Millis{100});
        return;
    }
    // One accept per readiness, not a loop: with one socket shared by every
    // worker, a greedy loop lets the first worker awake take a whole burst
    // while the others idle (libuv 1.44 accepts greedily; later releases
    // changed that for this reason). Level-triggered polling brings us back
    // at once if more connections are queued.
    if (self->accept_one(listener->fd) == AcceptOutcome::accepted && self->holds_more_than_its_share()) {
        // Every worker is woken for each connection, but on a busy machine
        // the one already running wins them all (seen: 100/0 under wrk).
        // Stepping back briefly lets a less loaded worker take the next one;
        // it delays, never refuses: after the pause we accept again.
        self->pause_accepting(Millis{2});
    }
}

bool Worker::holds_more_than_its_share() const {
    if (segment_ == nullptr) return false;
    std::uint64_t total = 0;
    std::uint64_t mine = 0;
    std::uint64_t serving = 0;
    for (std::uint32_t i = 0; i < segment_->http_slots(); ++i) {
        const ScoreboardSlot& slot = segment_->slot(i);
        if (slot.pid.load(std::memory_order_relaxed) == 0 || slot.spare.load(std::memory_order_relaxed) != 0 ||
            slot.state.load(std::memory_order_relaxed) != static_cast<std::uint32_t>(SlotState::ready)) {
            continue;
        }
        const auto open = slot.connections_open.load(std::memory_order_relaxed);
        total += open;
        serving += 1;
        if (i == setup_.slot) mine = open;
    }
    // More than one above the mean: mine > total / serving + 1.
    return serving > 1 && mine * serving > total + serving;
}

Worker::AcceptOutcome Worker::accept_one(int listening_fd) {
    const int fd = accept4(listening_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        switch (errno) {
            case EAGAIN:
            case EINTR:
            case ECONNABORTED:
                return AcceptOutcome::queue_empty;  // another worker won it, or the client left
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                spdlog::error("accept4() failed: {}; pausing accepts for 100 ms", std::strerror(errno));
                pause_accepting(Millis{100});
                return AcceptOutcome::failed;
            default:
                spdlog::error("accept4() failed: {}", std::strerror(errno));
                return AcceptOutcome::failed;
        }
    }
    auto admission = Connection::Admission::accepted;
    if (admitted_connections_.size() >= config_.max_connections) admission = Connection::Admission::over_limit;
    Connection* connection = Connection::open(&loop_, fd, *this, admission);
    connections_.insert(connection);
    if (admission == Connection::Admission::accepted) admitted_connections_.insert(connection);
    if (draining_) connection->drain();
    return AcceptOutcome::accepted;
}

void Worker::pause_accepting(Millis how_long) {
    if (!listening_) return;
    for (unsigned i = 0; i < listener_count_; ++i) uv_poll_stop(&listeners_[i].poll);
    uv_timer_start(&accept_retry_, on_accept_retry, static_cast<std::uint64_t>(how_long.count()), 0);
}

void Worker::on_accept_retry(uv_timer_t* timer) {
    auto* self = static_cast<Worker*>(timer->data);
    if (!self->listening_ || !self->accepting_) return;
    for (unsigned i = 0; i < self->listener_count_; ++i) {
        uv_poll_start(&self->listeners_[i].poll, UV_READABLE, on_listen_readable);
    }
}

void Worker::on_heartbeat(uv_timer_t* timer) {
    auto* self = static_cast<Worker*>(timer->data);
    const auto now = monotonic_ms();
    self->reporter_.heartbeat(now);
    self->dispatcher_->publish_load();
    self->check_stuck_compute(now);
}

// A compute thread still running past its job's deadline cannot be stopped
// (threads share the process; there is no safe way to kill one). Its client
// had a 504; the worker asks the supervisor for a replacement, which starts
// first, and then drains: nothing in flight is lost.
void Worker::check_stuck_compute(std::int64_t now_ms) {
    if (recycle_requested_) return;
    const auto stuck = dispatcher_->stuck_jobs(now_ms, 0);
    if (stuck.empty()) return;
    recycle_requested_ = true;
    spdlog::error("{} compute thread(s) stuck past the job deadline (the longest for {:.1f} s); asking the "
                  "supervisor to replace this worker",
                  stuck.size(),
                  static_cast<double>(std::max_element(stuck.begin(), stuck.end(), [](const auto& a, const auto& b) {
                                          return a.running_for_ms < b.running_for_ms;
                                      })->running_for_ms) / 1000.0);
    ask_for_replacement(RecycleReason::stuck_compute_thread);
}

void Worker::ask_for_replacement(RecycleReason reason) {
    recycle_requested_ = true;
    reporter_.request_recycle(reason);
    const std::uint64_t one = 1;
    // The log eventfd wakes the supervisor, which reads the request with the log.
    (void)!::write(log_wake_fd, &one, sizeof one);
}

void Worker::on_request_finished() {
    ++requests_served_;
    if (config_.crash_after_requests > 0 && requests_served_ >= config_.crash_after_requests) {
        spdlog::warn("fault injection: crashing after {} requests", requests_served_);
        std::abort();
    }
    if (recycle_after_ > 0 && requests_served_ >= recycle_after_ && !recycle_requested_) {
        spdlog::info("served {} requests (--max-requests); asking the supervisor to replace this worker",
                     requests_served_);
        ask_for_replacement(RecycleReason::max_requests);
    }
}

void Worker::on_command_wake(uv_poll_t* poll, int status, int) {
    auto* self = static_cast<Worker*>(poll->data);
    std::uint64_t count = 0;
    if (status == 0) (void)!::read(command_wake_fd, &count, sizeof count);
    self->read_commands();
}

void Worker::read_commands() {
    if (!commands_) return;
    std::array<CommandRecord, command_ring_capacity> batch;
    const RingRead got = commands_->pop_batch(batch);
    if (got.corrupted) {
        spdlog::error("the command ring's indices are impossible; waiting for signals instead");
        uv_poll_stop(&command_wake_);
        return;
    }
    commands_->release();
    for (std::size_t i = 0; i < got.count; ++i) {
        switch (static_cast<Command>(batch[i].command)) {
            case Command::drain:
                begin_drain("drain command");
                if (setup_.drain_process) setup_.drain_process();
                break;
            case Command::unready:
                announce_stop();
                spdlog::debug("unready command: /readyz answers 503, serving goes on until the drain");
                break;
            case Command::reopen_logs:
                spdlog::debug("reopen-logs: this worker logs through the supervisor; nothing to reopen");
                break;
            case Command::promote:
                if (setup_.promote_fanout != nullptr) {
                    setup_.promote_fanout->promote_all();
                } else {
                    if (!accepting_ && !draining_) spdlog::info("promoted: accepting now");
                    start_accepting();
                }
                break;
            default:
                spdlog::warn("ignoring unknown command {}", batch[i].command);
                break;
        }
    }
}

void Worker::on_connection_closed(Connection& connection) {
    connections_.erase(&connection);
    admitted_connections_.erase(&connection);
    finish_if_drained();
}

void Worker::on_signal(uv_signal_t* handle, int signal) {
    auto* self = static_cast<Worker*>(handle->data);
    if (signal == SIGQUIT) {
        spdlog::info("SIGQUIT: exiting now");
        std::_Exit(exit_code::ok);
    }
    self->begin_drain(signal == SIGTERM ? "SIGTERM" : "SIGINT");
}

void Worker::begin_drain(const char* why) {
    if (draining_) return;
    draining_ = true;
    spdlog::debug("{}: draining {} connections", why, connections_.size());
    // Take what is already queued on the shared socket before closing our
    // copy: those clients connected while we were serving and deserve an
    // answer; a worker still running (a rolling reload) would serve them too.
    // A hot spare that was never promoted takes nothing: it served no one.
    unsigned taken = 0;
    for (unsigned i = 0; listening_ && accepting_ && i < listener_count_; ++i) {
        while (taken < config_.max_connections && accept_one(listeners_[i].fd) == AcceptOutcome::accepted) ++taken;
    }
    close_listener();
    // Queued jobs are answered 503 now; running ones finish within the
    // supervisor's shutdown deadline.
    dispatcher_->shed_queued();
    for (Connection* connection : connections_) connection->drain();
    finish_if_drained();
}

void Worker::close_listener() {
    if (!listening_) return;
    listening_ = false;
    uv_timer_stop(&accept_retry_);
    for (unsigned i = 0; i < listener_count_; ++i) {
        uv_close(as_handle(&listeners_[i].poll), [](uv_handle_t* handle) {
            ::close(static_cast<Listener*>(handle->data)->fd);
        });
    }
}

void Worker::finish_if_drained() {
    if (!draining_ || !connections_.empty()) return;
    if (uv_is_closing(as_handle(&accept_retry_))) return;
    uv_close(as_handle(&accept_retry_), ignore_close);
    uv_close(as_handle(&heartbeat_), ignore_close);
    if (setup_.promote_fanout != nullptr) setup_.promote_fanout->leave(this);
    uv_close(as_handle(&promote_wake_), ignore_close);
    deadlines_->close();
    if (setup_.reads_commands) uv_close(as_handle(&command_wake_), ignore_close);
    for (auto& signal : signals_) uv_close(as_handle(&signal), ignore_close);
    dispatcher_->close([] {});
}

void PromoteFanout::join(Worker* loop) {
    std::lock_guard lock(mutex_);
    loops_.push_back(loop);
}

void PromoteFanout::leave(Worker* loop) {
    std::lock_guard lock(mutex_);
    loops_.erase(std::remove(loops_.begin(), loops_.end(), loop), loops_.end());
}

void PromoteFanout::promote_all() {
    std::lock_guard lock(mutex_);
    for (Worker* loop : loops_) loop->promote_from_any_thread();
}

namespace {

// Reports the process ready once every loop listens: the supervisor counts a
// --model=threads worker ready only when all its loops can serve.
class ReadyBarrier {
public:
    explicit ReadyBarrier(unsigned loops) : waiting_(loops) {}

    bool arrive() {
        std::lock_guard lock(mutex_);
        if (--waiting_ == 0) reported_ = report_ready_to_supervisor();
        return waiting_ > 0 || reported_;
    }

private:
    std::mutex mutex_;
    unsigned waiting_;
    bool reported_ = false;
};

// --model=threads: one Worker per thread, each with its own scoreboard slot
// (slot, slot + 1, ...) and its own dup() of every listening socket, so a loop
// that drains closes only its own descriptors. The process exits once every
// loop has drained; its exit code is the first loop's failure, if any.
int run_loops(const Config& config, const detail::AppModel& app, const ShmSegment& segment) {
    const unsigned loops = config.workers;
    ReadyBarrier ready(loops);
    PromoteFanout promote_fanout;
    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned l = 0; l < loops; ++l) {
        LoopSetup setup;
        setup.slot = config.slot + l;
        for (unsigned i = 0; i < config.listen_fds; ++i) {
            const int fd = ::fcntl(inherited_listen_fd(i), F_DUPFD_CLOEXEC, 0);
            if (fd < 0) {
                spdlog::critical("fcntl(F_DUPFD_CLOEXEC) failed on the listening socket for loop {}: {}", l,
                                 std::strerror(errno));
                return exit_code::failure;
            }
            setup.listen_fds.push_back(fd);
        }
        if (config.compute == ComputeMode::processes) setup.result_wake_fd = child::result_fd_for(l, config.listen_fds);
        setup.reads_commands = l == 0;
        setup.report_ready = [&ready] { return ready.arrive(); };
        // A drain command reaches the first loop only; as a process-directed
        // SIGTERM it reaches every loop's uv_signal, as the supervisor's own would.
        if (l == 0) setup.drain_process = [] { ::kill(::getpid(), SIGTERM); };
        setup.promote_fanout = &promote_fanout;
        try {
            workers.push_back(std::make_unique<Worker>(config, app, &segment, std::move(setup)));
        } catch (const std::exception& error) {
            spdlog::critical("loop {} cannot start: {}", l, error.what());
            std::_Exit(exit_code::config_error);  // the loops built so far hold threads: leave at once
        }
    }
    // Only the loops' copies keep the socket open now: once the last loop
    // drains, the process holds no listening descriptor.
    for (unsigned i = 0; i < config.listen_fds; ++i) ::close(inherited_listen_fd(i));
    spdlog::info("serving with {} event-loop thread{} (scoreboard slots {}..{})", loops, loops == 1 ? "" : "s",
                 config.slot, config.slot + loops - 1);
    std::vector<int> codes(loops, exit_code::ok);
    std::vector<std::thread> threads;
    for (unsigned l = 0; l < loops; ++l) {
        threads.emplace_back([&workers, &codes, l, loops, slot = config.slot + l] {
            if (loops > 1) name_loop_in_log(slot);
            codes[l] = workers[l]->run();
        });
    }
    for (auto& thread : threads) thread.join();
    workers.clear();
    for (int code : codes) {
        if (code != exit_code::ok) return code;
    }
    return exit_code::ok;
}

}  // namespace

int run_worker(const Config& config, const detail::AppModel& app) {
    init_logging("[worker " + std::to_string(config.slot) + " " + std::to_string(getpid()) + "]", config.log_level);
    if (!start_as_supervisors_child(config, "worker")) return exit_code::config_error;
    if (config.crash_at_start) crash_at_start();
    auto attached = ShmSegment::attach({config.shm_header_fd, config.shm_body_fd}, ShmSegment::Access::read_write);
    if (auto* error = std::get_if<std::string>(&attached)) {
        spdlog::critical("{}", *error);
        return exit_code::config_error;
    }
    const auto& segment = std::get<ShmSegment>(attached);
    if (config.slot >= segment.slot_count()) {
        spdlog::critical("slot {} is outside the scoreboard's {} slots", config.slot, segment.slot_count());
        return exit_code::config_error;
    }
    // From here on, log lines travel through the ring to the supervisor. With
    // several loops they share the first slot's ring: the sink serializes
    // its producers with a mutex, so the ring keeps one producer at a time.
    log_through_ring(segment.rings(config.slot).log, segment.slot(config.slot).log_drops,
                     child_log_prefix(worker_log_noun, config.slot, getpid()));
    if (config.model == ServingModel::threads) {
        if (config.slot + config.workers > segment.http_slots()) {
            spdlog::critical("slots {}..{} for {} loops are outside the scoreboard's {} HTTP slots", config.slot,
                             config.slot + config.workers - 1, config.workers, segment.http_slots());
            return exit_code::config_error;
        }
        return run_loops(config, app, segment);
    }
    LoopSetup setup;
    setup.slot = config.slot;
    for (unsigned i = 0; i < config.listen_fds; ++i) setup.listen_fds.push_back(inherited_listen_fd(i));
    setup.result_wake_fd = compute::result_wake_fd;
    setup.report_ready = report_ready_to_supervisor;
    std::unique_ptr<Worker> worker;
    try {
        worker = std::make_unique<Worker>(config, app, &segment, std::move(setup));
    } catch (const std::exception& error) {
        spdlog::critical("the worker cannot start: {}", error.what());
        std::_Exit(exit_code::config_error);  // its loop and threads are half built: leave at once
    }
    return worker->run();
}

}  // namespace clusterd::worker
