// One running worker process, started with uv_spawn: fork + exec of this same
// binary in the worker role, so every worker gets fresh ASLR, a fresh stack
// canary, no inherited threads or locks and a clean libuv state.
//
// The child inherits exactly: stdin (/dev/null), stdout, stderr, fd 3 = the
// (first) listening socket (HTTP workers only), fd 4 = its end of a
// socketpair on which it reports "ready" with one byte, fd 5 = an eventfd it
// bumps after publishing log records, fd 6 = an eventfd the supervisor bumps
// after queueing a command for it, and from fd 7 on the job ring's result
// eventfds (--compute=processes: an HTTP worker gets its own at fd 7, a
// compute process one per HTTP slot, in slot order; a --model=threads worker
// one per event loop, the second one after its extra listening sockets, see
// common/inherited_fds.hpp). An HTTP worker of a
// cluster with several listening sockets gets the others from fd 8 on
// (`--listen-fds K` tells it how many in all). Everything else we own is
// close-on-exec.
//
// Reaping happens only through uv_spawn's exit_cb: a second waitpid(-1)
// anywhere would steal statuses from libuv.
//
// Ownership: the object is heap-allocated and deletes itself once its uv
// handles are closed, which starts after the exit callback has been delivered.
// The owner must drop its pointer in on_worker_exit.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "supervisor/exit_info.hpp"

namespace clusterd::supervisor {

// fd numbers a worker finds its inherited descriptors at.
inline constexpr int worker_listen_fd = 3;
inline constexpr int worker_ready_fd = 4;
inline constexpr int worker_log_wake_fd = 5;
inline constexpr int worker_command_wake_fd = 6;
inline constexpr int worker_first_result_fd = 7;
inline constexpr int worker_first_extra_listen_fd = 8;
inline constexpr char worker_ready_byte = 'R';

class WorkerEvents {
public:
    virtual void on_worker_ready(unsigned slot, std::uint64_t generation) = 0;
    virtual void on_worker_exit(unsigned slot, std::uint64_t generation, ExitInfo exit) = 0;
    virtual void on_worker_log(unsigned slot, std::uint64_t generation) = 0;

protected:
    ~WorkerEvents() = default;
};

struct SpawnRequest {
    std::string executable;
    std::vector<std::string> args;  // without argv[0]
    const char* role = "worker";    // --role: "worker" (HTTP) or "compute"
    unsigned slot = 0;
    std::uint64_t generation = 0;
    std::vector<int> listen_fds;    // empty: none (compute processes)
    std::vector<int> result_fds;    // inherited from worker_first_result_fd on
};

class WorkerProcess {
public:
    // Starts the worker; returns it, or a negative uv error (nothing to clean up then).
    [[nodiscard]] static std::variant<WorkerProcess*, int> spawn(uv_loop_t* loop, const SpawnRequest& request,
                                                                 WorkerEvents& events);

    [[nodiscard]] pid_t pid() const { return process_.pid; }
    // Sends a signal; a process that is already gone is not an error.
    void kill(int signal);
    // Wakes the worker to read its command ring.
    void wake_for_commands();

    WorkerProcess(const WorkerProcess&) = delete;
    WorkerProcess& operator=(const WorkerProcess&) = delete;

private:
    WorkerProcess(unsigned slot, std::uint64_t generation, WorkerEvents& events);
    ~WorkerProcess() = default;

    static void on_exit(uv_process_t* process, std::int64_t exit_status, int term_signal);
    static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_closed(uv_handle_t* handle);
    static void on_log_wake(uv_poll_t* poll, int status, int events);
    void close_handles();

    unsigned slot_;
    std::uint64_t generation_;
    WorkerEvents& events_;
    uv_process_t process_{};
    uv_pipe_t ready_channel_{};
    uv_poll_t log_wake_{};
    int log_wake_fd_ = -1;      // the eventfd; closed with the poll handle
    int command_wake_fd_ = -1;  // the other eventfd; closed with the process handle
    char read_buffer_[16]{};
    int open_handles_ = 0;
};

}  // namespace clusterd::supervisor
