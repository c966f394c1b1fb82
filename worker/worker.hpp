// The HTTP worker: one libuv loop that accepts on the inherited listening
// socket (fd 3), serves its connections, and on SIGTERM drains: stops
// accepting, answers what it already has with "Connection: close", gives idle
// keep-alive connections a short quiet window, and exits 0 when the last one
// is gone. The supervisor's shutdown deadline bounds how long that may take.
//
// --model=threads runs N of these in one process, one per thread, each with
// its own scoreboard slot, its own descriptors for the listening socket(s)
// and its own compute executor (run_worker, worker.cpp).
#pragma once

#include <uv.h>

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "common/config.hpp"
#include "common/shm_segment.hpp"
#include "worker/app_model.hpp"
#include "worker/slot_reporter.hpp"
#include "worker/compute/dispatcher.hpp"
#include "worker/connection.hpp"

namespace clusterd::worker {

class Worker;

// The loops of one --model=threads process that a promote command reaches
// (a hot spare, --spares): the first loop reads the command and wakes every
// loop still running. A loop leaves before it closes its wake-up handle, under
// the same lock, so none is woken through a closed handle.
class PromoteFanout {
public:
    void join(Worker* loop);
    void leave(Worker* loop);
    void promote_all();

private:
    std::mutex mutex_;
    std::vector<Worker*> loops_;
};

// What one event loop owns; a worker process has one (--model=processes) or
// --workers of them (--model=threads).
struct LoopSetup {
    unsigned slot = 0;             // its scoreboard slot
    std::vector<int> listen_fds;   // its own descriptors of the listening socket(s); it closes them when draining
    int result_wake_fd = -1;       // --compute=processes: its job ring result eventfd
    bool reads_commands = true;    // owns the command ring and its eventfd (one loop per process)
    // The admin worker's loop (--admin-listen): serves /metrics, /status and
    // the probes only, runs no application hook and owns no scoreboard slot.
    bool admin = false;
    // Called once this loop listens; false means there is no supervisor to serve.
    std::function<bool()> report_ready;
    // A drain command arrived (on the loop that reads commands): drains the
    // whole process. Empty: this loop alone.
    std::function<void()> drain_process;
    // --model=threads: the loops a promote command reaches; null: this loop alone.
    PromoteFanout* promote_fanout = nullptr;
};

class Worker final : public ConnectionHost {
public:
    // segment may be null (no scoreboard): every report is then dropped.
    // Throws std::runtime_error when the executor cannot start (a compute
    // start hook threw on a compute thread, say): a start-up failure.
    Worker(const Config& config, const detail::AppModel& app, const ShmSegment* segment, LoopSetup setup);
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;
    ~Worker();

    // Serves until drained; returns the process exit code.
    [[nodiscard]] int run();

    [[nodiscard]] const Config& config() const override { return config_; }
    [[nodiscard]] RouteContext route_context() const override {
        return {draining_ || stop_announced(), config_.fault_injection, segment_, setup_.slot, &app_,
                !setup_.admin, setup_.admin || !config_.admin_only_metrics, &config_};
    }
    [[nodiscard]] ReplyServices reply_services() override { return {*dispatcher_, app_, config_, &loop_}; }
    [[nodiscard]] SlotReporter& reporter() override { return counters_; }
    [[nodiscard]] compute::Dispatcher& dispatcher() override { return *dispatcher_; }
    [[nodiscard]] HttpDate& date() override { return date_; }
    [[nodiscard]] const std::string& worker_id() const override { return worker_id_; }
    // A hot spare's loop starts accepting; callable from any thread (uv_async_send).
    void promote_from_any_thread() { uv_async_send(&promote_wake_); }
    [[nodiscard]] DeadlineWheel& deadlines() override { return *deadlines_; }
    uv_buf_t read_buffer() override { return uv_buf_init(read_buffer_.data(), read_buffer_.size()); }
    void on_connection_closed(Connection& connection) override;
    void on_request_finished() override;

private:
    static void on_listen_readable(uv_poll_t* poll, int status, int events);
    static void on_accept_retry(uv_timer_t* timer);
    static void on_signal(uv_signal_t* handle, int signal);
    static void on_heartbeat(uv_timer_t* timer);
    static void on_command_wake(uv_poll_t* poll, int status, int events);
    static void on_promote_wake(uv_async_t* async);
    // Polls the listening socket(s): at once, or for a hot spare once promoted.
    void start_accepting();
    void read_commands();
    // An unready command arrived (--drain-delay): every loop of this process
    // answers /readyz 503 from now on, while it still accepts and serves.
    [[nodiscard]] static bool stop_announced();

    // One inherited listening socket and its poll handle (usually one; socket
    // activation may pass several).
    struct Listener {
        uv_poll_t poll{};
        int fd = -1;
        Worker* owner = nullptr;
    };

    enum class AcceptOutcome { accepted, queue_empty, failed };
    AcceptOutcome accept_one(int listen_fd);
    [[nodiscard]] bool holds_more_than_its_share() const;
    void pause_accepting(Millis how_long);
    void begin_drain(const char* why);
    void close_listener();
    void finish_if_drained();
    [[nodiscard]] std::unique_ptr<compute::Backend> make_backend(compute::CompletionSink sink);
    void check_stuck_compute(std::int64_t now_ms);
    void ask_for_replacement(RecycleReason reason);

    [[nodiscard]] bool run_start_hooks();

    const Config& config_;
    const detail::AppModel& app_;
    const ShmSegment* segment_;
    LoopSetup setup_;
    SlotReporter reporter_;  // heartbeats, and the counters unless measured without them
    SlotReporter silent_;
    SlotReporter& counters_;
    uv_loop_t loop_{};
    std::unique_ptr<Listener[]> listeners_;  // stable addresses: uv holds pointers to the polls
    unsigned listener_count_ = 0;
    uv_timer_t accept_retry_{};
    uv_timer_t heartbeat_{};
    std::optional<DeadlineWheel> deadlines_;  // every connection's timeouts; made once loop_ is
    uv_poll_t command_wake_{};
    std::optional<RingConsumer<CommandRecord, command_ring_capacity>> commands_;
    std::unique_ptr<compute::Dispatcher> dispatcher_;
    bool recycle_requested_ = false;
    std::uint64_t requests_served_ = 0;
    std::uint64_t recycle_after_ = 0;  // --max-requests plus this worker's jitter; 0: never
    std::array<uv_signal_t, 3> signals_{};
    bool listening_ = false;   // holds the listening socket(s)
    bool accepting_ = false;   // polls them (a hot spare holds them without accepting)
    bool draining_ = false;
    uv_async_t promote_wake_{};
    std::string worker_id_;    // --worker-id-header's value, or empty
    std::unordered_set<Connection*> connections_;
    std::unordered_set<Connection*> admitted_connections_;  // counted against --max-connections
    HttpDate date_;
    std::array<char, 64 * 1024> read_buffer_{};
};

// Entry point of the worker role: serves app.
[[nodiscard]] int run_worker(const Config& config, const detail::AppModel& app);

// Entry point of the admin role (--admin-listen): the cluster's /metrics,
// /status and probes on the admin socket (fd 3), read from the scoreboard
// without writing it. app only names the application's routes and tasks in
// /metrics; none of its code runs here.
[[nodiscard]] int run_admin_worker(const Config& config, const detail::AppModel& app);

}  // namespace clusterd::worker
