// The admin worker (--admin-listen), as the supervisor keeps it: one native
// clusterd process in the admin role (worker/admin_worker.cpp) serving the
// cluster's /metrics, /status, /healthz and /readyz on its own socket. The
// supervisor's loop parses no HTTP itself; it supervises this process as it
// does the others:
//   - a death is logged and answered by a new one, at once after a good run,
//     after an exponential backoff (--backoff-initial .. --backoff-max) when
//     it keeps dying young (< --min-uptime); it never trips the breaker nor
//     touches the HTTP workers: an admin outage costs metrics, not service;
//   - a reload starts the successor on the same socket first and stops the
//     predecessor (SIGTERM: it drains like any worker) once it is ready, so a
//     scrape during a reload is answered;
//   - at stop it is drained last, after the HTTP workers, so the drain itself
//     can be watched; the shutdown deadline kills it like the others.
// It owns no scoreboard slot (so it has no heartbeat the watchdog could
// judge) and maps the segment read-only.
#pragma once

#include <uv.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/units.hpp"
#include "supervisor/listen_socket.hpp"
#include "supervisor/worker_process.hpp"

namespace clusterd::supervisor {

class AdminWorker final : private WorkerEvents {
public:
    struct Policy {
        Millis min_uptime{1000};
        Millis backoff_initial{100};
        Millis backoff_max{30'000};
        std::optional<child::Identity> run_as;  // whom the admin process becomes (SpawnRequest::run_as)
    };

    // socket: bound (--admin-listen) or passed by socket activation (named "admin").
    // on_gone: called whenever no admin process is left (for the supervisor's stop).
    // segment: the descriptors it maps (ShmSegment::child_fds, the body read-only).
    AdminWorker(uv_loop_t* loop, ListenSocket socket, std::string executable, SegmentFds segment,
                std::function<void()> on_gone);
    AdminWorker(const AdminWorker&) = delete;
    AdminWorker& operator=(const AdminWorker&) = delete;
    ~AdminWorker();

    // Starts the first process with this configuration (Config::accepted).
    void start(const std::string& accepted_config, const Policy& policy);
    // A reload: a successor with the new configuration, then the predecessor drains.
    void replace(const std::string& accepted_config, const Policy& policy);
    // Drains every admin process (SIGTERM) and starts no other; on_gone
    // follows once the last is reaped.
    void stop();
    // Kills every admin process (the shutdown deadline, an immediate stop).
    void kill_now();
    // Closes the timer; call once stopped and gone, before the loop ends.
    void close();

    [[nodiscard]] bool running() const { return current_.process != nullptr || successor_.process != nullptr || !leaving_.empty(); }
    [[nodiscard]] int socket_fd() const { return socket_.fd.get(); }
    [[nodiscard]] const std::string& address() const { return socket_.address; }

private:
    static void on_restart_timer(uv_timer_t* timer);
    void on_worker_ready(unsigned slot, std::uint64_t generation) override;
    void on_worker_exit(unsigned slot, std::uint64_t generation, ExitInfo exit) override;
    void on_worker_log(unsigned, std::uint64_t) override {}  // it logs to stderr: it has no ring
    void on_worker_notify(unsigned, std::uint64_t, const NotifyMessage&) override {}
    void on_worker_output(unsigned, std::uint64_t, OutputStream, std::string_view, bool) override {}

    uv_loop_t* loop_;
    ListenSocket socket_;
    std::string executable_;
    SegmentFds segment_;
    std::function<void()> on_gone_;
    std::string accepted_config_;
    Policy policy_;
    uv_timer_t restart_timer_{};
    struct Running {
        WorkerProcess* process = nullptr;
        std::uint64_t generation = 0;
    };
    [[nodiscard]] Running spawn_one();
    void leave(Running& running);  // SIGTERM, and into leaving_

    Running current_;                // the one serving (or starting)
    Running successor_;              // a reload's new one, until it is ready
    std::vector<Running> leaving_;   // told to drain, not yet reaped
    std::uint64_t generation_ = 0;
    SteadyTime started_at_{};
    Millis next_backoff_{0};
    bool stopping_ = false;
    bool closed_ = false;
};

}  // namespace clusterd::supervisor
