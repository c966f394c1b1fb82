// The primary process: keeps --workers HTTP workers alive on one listening
// socket (and, with --compute=processes, --compute-processes compute
// processes fed through the shared job ring), on a single-threaded libuv
// loop. It reads like gunicorn's arbiter: signals only record an intent, and
// each verb is its own small method (spawn_worker, on_worker_exit,
// begin_graceful_stop, manage_compute, load_configuration).
//
// Slots: [0, 2N) are HTTP workers' (N serve; the other N are spares in
// which a replacement starts before its predecessor leaves), [2N, 2N + M)
// compute processes'. Which HTTP slot runs a worker and who replaces whom
// (reload, recycling, scaling, upgrade) is decided by the Rotation
// (rotation.hpp); supervisor_rotation.cpp carries its actions out.
// supervisor_compute.cpp holds what only compute slots need (job ring
// repair, stuck jobs), supervisor_health.cpp the scoreboard side.
//
// --model=threads: the unit supervised is one process running N event loops
// (N = --workers) in N consecutive scoreboard slots [i, i + N) (slot.hpp:
// SlotRole::loop). The cluster wants one such process; a spare group of N
// slots takes its successor on reload or replacement. Restart policy and
// breaker are per process; a hang of any loop, or a crash, replaces the
// process and so all N loops at once. Counts of "workers" stay counts of
// event loops in both models.
#pragma once

#include <uv.h>

#include <array>
#include <deque>
#include <optional>
#include <string>
#include <memory>
#include <random>
#include <vector>

#include "common/config.hpp"
#include "common/shm_segment.hpp"
#include "common/unique_fd.hpp"
#include "supervisor/admin_worker.hpp"
#include "supervisor/control_socket.hpp"
#include "supervisor/fork_server.hpp"
#include "supervisor/listen_socket.hpp"
#include "supervisor/orphan_reaper.hpp"
#include "supervisor/rotation.hpp"
#include "supervisor/sd_notify.hpp"
#include "supervisor/slot.hpp"
#include "supervisor/upgrade.hpp"
#include "supervisor/watchdog.hpp"
#include "supervisor/worker_commands.hpp"
#include "supervisor/worker_logs.hpp"
#include "supervisor/worker_process.hpp"

namespace clusterd::supervisor {

class Supervisor final : private WorkerEvents {
public:
    // The segment must outlive the supervisor; its scoreboard slot i mirrors worker slot i.
    // upgrade_ready: when this supervisor was started by a binary upgrade, the
    // pipe on which it tells the old one that its cluster is ready.
    // control: the bound control socket (control_socket.hpp), if any.
    // admin: the --admin-listen socket (or the one socket activation named "admin"), if any.
    // run_as: whom every child becomes (a supervisor that kept root, --user); none: children keep our ids.
    Supervisor(Config config, std::vector<ListenSocket> listen, ShmSegment& segment, UniqueFd upgrade_ready = {},
               std::optional<BoundControlSocket> control = std::nullopt,
               std::optional<ListenSocket> admin = std::nullopt, std::optional<child::Identity> run_as = std::nullopt);
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;
    ~Supervisor();

    // Runs until stopped by a signal and every worker is reaped; returns the exit code.
    [[nodiscard]] int run();

    // Blocks the operator's signals (TERM, INT, QUIT, HUP, USR1, USR2) until
    // a Supervisor's handlers are in place, which unblocks them: a SIGTERM
    // that systemd sends while we are still binding then waits, pending,
    // instead of killing us by its default action. Call first thing.
    static void hold_signals_until_handled();

private:
    enum class Phase { running, stopping_gracefully, stopping_now };

    struct SlotTimer {
        uv_timer_t timer{};
        Supervisor* owner = nullptr;
        unsigned slot = 0;
    };

    static void on_signal(uv_signal_t* handle, int signal);
    static void on_slot_timer(uv_timer_t* timer);
    static void on_shutdown_deadline(uv_timer_t* timer);
    static void on_drain_delay(uv_timer_t* timer);
    static void on_watchdog(uv_timer_t* timer);

    void handle_signal(int signal);
    void begin_graceful_stop(const char* why);
    // --drain-delay: /readyz fails everywhere while serving goes on, then begin_graceful_stop.
    void announce_stop(const char* why);
    void reopen_logs();
    void begin_immediate_stop(const char* why);
    void manage_compute();
    void arm_watchdog();
    static void on_reconcile(uv_timer_t* timer);
    void spawn_worker(unsigned slot);
    [[nodiscard]] SpawnRequest spawn_request(const Slot& slot);
    [[nodiscard]] bool is_http(unsigned slot) const { return slots_[slot].role == SlotRole::http; }
    [[nodiscard]] const char* noun(unsigned slot) const {
        return !is_http(slot) ? "compute process" : loops_ > 1 ? "worker process" : "worker";
    }
    // The scoreboard slots of the process in `slot`: [slot, slot + loops_) for an HTTP worker.
    [[nodiscard]] unsigned loops_of(unsigned slot) const { return is_http(slot) ? loops_ : 1; }
    [[nodiscard]] std::string loops_note(unsigned slot) const;

    // supervisor_rotation.cpp
    [[nodiscard]] std::vector<SlotView> slot_views() const;
    void rotate(const RotationEvent& event);
    void carry_out(const RotationAction& action);
    void load_configuration();
    void apply_reloaded();
    void report(Outcome outcome, const std::string& why);
    void promote_spare(unsigned slot, const std::string& why);

    // supervisor_control.cpp
    void on_control_command(ControlSocket::RequestId id, const std::string& line);
    void answer_control(Outcome outcome, const std::string& why);
    void promote_queued(bool reload);

    // supervisor_upgrade.cpp
    void start_upgrade();
    void hand_over();
    static void on_upgrade_deadline(uv_timer_t* timer);
    void on_upgrade_ready();
    void on_upgrade_failed(std::string how);

    // supervisor_limits.cpp
    void check_memory_limits();
    void sample_process_usage();  // RSS and CPU time of every child, into the scoreboard

    // supervisor_notify.cpp
    void start_systemd_watchdog();
    static void on_systemd_ping(uv_timer_t* timer);
    [[nodiscard]] bool cluster_view_is_current(std::int64_t now_ms) const;
    void notify_status();
    void warn_if_fault_injection() const;

    // supervisor_exec.cpp: exec mode (`clusterd -- COMMAND`)
    struct ExecSlot {
        bool pinged = false;               // sent WATCHDOG=1 at least once: watched from then on
        std::int64_t started_ms = 0;       // monotonic ms of the spawn, for --ready=delay
        std::int64_t start_deadline_ms = 0;  // monotonic ms; --start-timeout after the spawn, or extended
        std::string status;                // its last STATUS=
        std::deque<std::string> last_lines;  // its last lines of output, for the death line
        bool malformed_logged = false;
    };
    [[nodiscard]] std::string new_notify_socket_name(const Slot& slot);
    [[nodiscard]] std::optional<ExecSpec> exec_spec(const Slot& slot);
    void begin_exec_slot(unsigned slot);
    void check_exec_workers(std::int64_t now_ms);
    [[nodiscard]] std::string last_words(unsigned slot) const;
    void on_worker_notify(unsigned slot, std::uint64_t generation, const NotifyMessage& message) override;
    void on_worker_output(unsigned slot, std::uint64_t generation, OutputStream stream, std::string_view line,
                          bool cut) override;

    // supervisor_compute.cpp
    void create_result_wakeups();
    void repair_job_ring(unsigned slot, std::uint64_t generation);
    void wake_requester(unsigned http_slot);
    // Kills compute processes stuck past a job's deadline; returns which compute
    // slots are running a job (their heartbeat pauses during one, by design).
    [[nodiscard]] std::vector<bool> check_compute_deadlines(std::int64_t now_ms);
    void drain_compute_when_http_gone();
    void kill_compute_process(Slot& slot, const char* reason, const std::string& what);
    void on_worker_ready(unsigned slot, std::uint64_t generation) override;
    void on_worker_exit(unsigned slot, std::uint64_t generation, ExitInfo exit) override;
    void on_worker_log(unsigned slot, std::uint64_t generation) override;
    void handle_death(unsigned slot, const ExitInfo& exit);
    // Through the slot's command ring; fallback_signal (0: none) if the ring refuses it.
    void command_worker(unsigned slot, Command command, int fallback_signal);
    void retry_slot(unsigned slot);
    void end_overdue_drain(unsigned slot);
    void finish_if_stopped();
    void log_capacity() const;
    [[nodiscard]] bool fully_ready() const;
    // HTTP worker processes ready and serving (hot spares not counted), and ready hot spares.
    [[nodiscard]] unsigned serving_ready() const;
    [[nodiscard]] unsigned spares_ready() const;
    void check_heartbeats();
    // Loop `scoreboard_slot` of the process in `process` (its first slot).
    [[nodiscard]] HeartbeatReading read_heartbeat(unsigned scoreboard_slot, const Slot& process) const;
    void publish_slot(const Slot& slot);
    void check_recycle_request(unsigned slot);
    void count_death(const ExitInfo& exit);
    void count_restart(RestartStat stat);
    void count_lost_connections(unsigned slot);
    [[nodiscard]] std::string what_it_was_doing(unsigned slot, unsigned first = 0) const;
    [[nodiscard]] bool is_current(unsigned slot, std::uint64_t generation) const;

    Config config_;
    unsigned loops_;  // event loops per HTTP worker process: 1, or --workers with --model=threads
    std::vector<ListenSocket> listen_;  // one or more (socket activation); every HTTP worker gets them all
    [[nodiscard]] std::vector<int> listen_fds() const;
    ShmSegment& segment_;
    WorkerLogs worker_logs_;
    WorkerCommands worker_commands_;
    std::string executable_;
    RestartPolicy policy_;
    uv_loop_t loop_{};
    Slots slots_;
    Rotation rotation_;
    std::vector<WorkerProcess*> processes_;  // by slot; null when no process
    std::unique_ptr<SlotTimer[]> slot_timers_;
    std::array<uv_signal_t, 6> signals_{};
    std::vector<UniqueFd> result_wakeups_;  // by HTTP slot; empty unless --compute=processes
    std::optional<JobRing> jobs_;            // the job ring, with --compute=processes
    uv_timer_t shutdown_deadline_{};
    uv_timer_t drain_delay_{};
    const char* delayed_stop_why_ = nullptr;  // set while --drain-delay runs
    uv_timer_t watchdog_{};
    uv_timer_t systemd_ping_{};
    uv_timer_t upgrade_deadline_{};
    uv_timer_t reconcile_{};
    UpgradeProcess* upgrade_ = nullptr;  // the new supervisor of a binary upgrade, until it is ready
    bool handing_over_ = false;          // stopping because a new binary took over
    Notifier notifier_;
    UniqueFd upgrade_ready_;  // we are that new supervisor: tell the old one when ready
    std::string last_status_;   // the STATUS= line last sent
    std::string last_problem_;  // the latest unexpected death or hang, for STATUS=
    Phase phase_ = Phase::running;
    // The control socket and who waits on it for what (supervisor_control.cpp).
    struct Waiters {
        std::vector<ControlSocket::RequestId> running;  // for the command of that kind in progress
        std::vector<ControlSocket::RequestId> queued;   // for the one queued behind it
    };
    struct Asking {
        ControlSocket::RequestId id;
        bool reload;  // else an upgrade
        bool no_wait;
        bool answered;
    };
    std::unique_ptr<ControlSocket> control_;
    std::optional<Asking> asking_;  // the request whose own event is being handled
    Waiters reload_waiters_;
    Waiters upgrade_waiters_;
    std::vector<ControlSocket::RequestId> stop_waiters_;
    std::vector<ControlSocket::RequestId> scale_waiters_;
    bool was_fully_ready_ = false;
    bool compute_draining_ = false;
    std::mt19937_64 random_{std::random_device{}()};
    std::vector<ExecSlot> exec_slots_;  // by slot; exec mode only
    std::unique_ptr<AdminWorker> admin_;  // --admin-listen: the metrics process
    std::unique_ptr<ForkServer> fork_server_;  // --fork-server: starts HTTP workers without exec
    std::unique_ptr<OrphanReaper> orphans_;    // with the fork server: the supervisor is a subreaper
    [[nodiscard]] AdminWorker::Policy admin_policy() const;
    // run_as_ with this generation's --core-dumps / --core-on-hang; none when children keep our ids.
    [[nodiscard]] std::optional<child::Identity> child_identity() const;
    std::optional<child::Identity> run_as_;
};

}  // namespace clusterd::supervisor
