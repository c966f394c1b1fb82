// The primary process: keeps --workers HTTP workers alive on one listening
// socket (and, with --compute=processes, --compute-processes compute
// processes fed through the shared job ring), on a single-threaded libuv
// loop. It reads like gunicorn's arbiter: signals only record an intent, and
// each verb is its own small method (spawn_worker, on_worker_exit,
// begin_graceful_stop, manage_workers, replace_worker).
//
// Slots: [0, 2N) are HTTP workers' (N serve; the other N are spares in
// which a replacement starts before its predecessor leaves), [2N, 2N + M)
// compute processes'. supervisor_compute.cpp holds what only compute slots
// need (job ring repair, stuck jobs), supervisor_replace.cpp the graceful
// replacement, supervisor_health.cpp the scoreboard side.
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
#include <memory>
#include <random>
#include <vector>

#include "common/config.hpp"
#include "common/shm_segment.hpp"
#include "common/unique_fd.hpp"
#include "supervisor/listen_socket.hpp"
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
    Supervisor(Config config, std::vector<ListenSocket> listen, ShmSegment& segment, UniqueFd upgrade_ready = {});
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
    void manage_workers();
    void spawn_worker(unsigned slot);
    [[nodiscard]] SpawnRequest spawn_request(const Slot& slot) const;
    [[nodiscard]] bool is_http(unsigned slot) const { return slots_[slot].role == SlotRole::http; }
    [[nodiscard]] unsigned serving_http_workers() const;
    [[nodiscard]] const char* noun(unsigned slot) const {
        return !is_http(slot) ? "compute process" : loops_ > 1 ? "worker process" : "worker";
    }
    // The scoreboard slots of the process in `slot`: [slot, slot + loops_) for an HTTP worker.
    [[nodiscard]] unsigned loops_of(unsigned slot) const { return is_http(slot) ? loops_ : 1; }
    // HTTP worker processes the configuration asks for.
    [[nodiscard]] unsigned wanted_processes() const { return config_.workers / loops_; }
    [[nodiscard]] std::string loops_note(unsigned slot) const;

    // supervisor_replace.cpp
    void check_recycle_request(unsigned slot);
    void replace_worker(unsigned slot, const char* why);
    void on_successor_ready(unsigned successor);
    [[nodiscard]] bool hand_over_to_successor(unsigned slot);

    // supervisor_reload.cpp
    void begin_reload();
    void continue_reload();
    void retire_worker(unsigned slot, const char* why);
    [[nodiscard]] bool abandon_failed_successor(unsigned slot);
    void finish_reload(const std::string& failure);

    // supervisor_upgrade.cpp
    void begin_upgrade();
    static void on_upgrade_deadline(uv_timer_t* timer);
    void on_upgrade_ready();
    void on_upgrade_failed(std::string how);

    // supervisor_limits.cpp
    void check_memory_limits();

    // supervisor_notify.cpp
    void start_systemd_watchdog();
    static void on_systemd_ping(uv_timer_t* timer);
    [[nodiscard]] bool cluster_view_is_current(std::int64_t now_ms) const;
    void notify_status();

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
    void finish_if_stopped();
    void log_capacity() const;
    [[nodiscard]] bool fully_ready() const;
    void check_heartbeats();
    [[nodiscard]] HeartbeatReading read_heartbeat(unsigned scoreboard_slot, std::uint64_t generation) const;
    void publish_slot(const Slot& slot);
    void count_death(const ExitInfo& exit);
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
    UpgradeProcess* upgrade_ = nullptr;  // the new supervisor of a binary upgrade, until it is ready
    bool handing_over_ = false;          // stopping because a new binary took over
    Notifier notifier_;
    UniqueFd upgrade_ready_;  // we are that new supervisor: tell the old one when ready
    std::string last_status_;   // the STATUS= line last sent
    std::string last_problem_;  // the latest unexpected death or hang, for STATUS=
    Phase phase_ = Phase::running;
    bool was_fully_ready_ = false;
    bool compute_draining_ = false;
    std::uint64_t config_generation_ = 1;  // bumped by every accepted reload
    bool reloading_ = false;
    bool reload_again_ = false;  // a reload asked for during one
    std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace clusterd::supervisor
