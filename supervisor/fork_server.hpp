// The supervisor's side of the fork server (--fork-server,
// worker/fork_server.hpp): it starts the process (uv_spawn, once), hands it
// start requests and reads its answers, and starts it again when it dies.
//
// A worker start asks it first (WorkerProcess::spawn) and falls back to
// uv_spawn whenever it cannot answer: not started yet, not ready, dead,
// waiting out a backoff, or not answering within a second (it is then
// killed and started again). So a fork server that fails costs speed,
// never a worker.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <optional>
#include <string>
#include <vector>

#include "common/child_privileges.hpp"
#include "common/clock.hpp"
#include "common/fork_request.hpp"
#include "common/units.hpp"
#include "common/unique_fd.hpp"

namespace clusterd::supervisor {

class ForkServer {
public:
    struct Policy {
        std::optional<child::Identity> run_as;  // whom it (and so every worker it forks) becomes
        Millis backoff_initial{100};
        Millis backoff_max{30'000};
    };

    ForkServer(uv_loop_t* loop, std::string executable, Policy policy);
    ForkServer(const ForkServer&) = delete;
    ForkServer& operator=(const ForkServer&) = delete;
    ~ForkServer() = default;

    void start();
    // Ready for requests.
    [[nodiscard]] bool ready() const { return ready_; }
    // Starts a worker: its pid, or pid 0 and the errno that stopped it (the
    // caller then spawns the worker itself). `fds[i]` goes to request.targets[i].
    [[nodiscard]] fork_request::Answer start_worker(const fork_request::Request& request,
                                                    const std::vector<int>& fds);
    // Closes its socket (it exits on that) and starts no other.
    void stop();
    // Closes the handles once it is gone; call before the loop ends.
    void close();
    [[nodiscard]] bool running() const { return running_; }
    [[nodiscard]] pid_t pid() const { return running_ ? process_.pid : 0; }

private:
    static void on_exit(uv_process_t* process, std::int64_t exit_status, int term_signal);
    static void on_ready_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_restart_timer(uv_timer_t* timer);
    static void on_closed(uv_handle_t* handle);
    void spawn();
    void fail(const std::string& why);  // kill it and fall back until it is back

    uv_loop_t* loop_;
    std::string executable_;
    Policy policy_;
    uv_process_t process_{};
    uv_pipe_t ready_pipe_{};
    uv_timer_t restart_timer_{};
    UniqueFd socket_;  // the supervisor's end of the request socket
    char read_buffer_[16]{};
    SteadyTime started_at_{};
    Millis next_backoff_{0};
    int open_handles_ = 0;  // of process_ and ready_pipe_, until both are closed after an exit
    bool running_ = false;  // process_ is a live process (its handles open)
    bool ready_ = false;
    bool stopping_ = false;
    bool closed_ = false;
};

}  // namespace clusterd::supervisor
