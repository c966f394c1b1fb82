// One running worker process, started with uv_spawn: fork + exec of this same
// binary in the worker role, so every worker gets fresh ASLR, a fresh stack
// canary, no inherited threads or locks and a clean libuv state.
//
// What the child inherits (descriptors, arguments, environment) is the child
// contract, common/child_contract.hpp; this file only carries it out. Its
// configuration is the accepted one of its generation, passed explicitly:
// nothing it reads on its own can differ from what the supervisor accepted.
//
// With --fork-server an HTTP worker is started by the fork server instead
// (supervisor/fork_server.hpp) when it can: the same arguments and
// descriptors, no exec, and still the supervisor's child; its exit is seen
// through a pidfd and reaped by waitid(P_PIDFD). Either way the child
// contract is the same.
//
// Reaping happens only through uv_spawn's exit_cb or that pidfd: a second
// waitpid(-1) anywhere would steal statuses from libuv (own_children.hpp).
//
// Ownership: the object is heap-allocated and deletes itself once its uv
// handles are closed, which starts after the exit callback has been delivered.
// The owner must drop its pointer in on_worker_exit.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/child_privileges.hpp"
#include "common/shm_segment.hpp"
#include "supervisor/exec_channels.hpp"
#include "supervisor/exit_info.hpp"

namespace clusterd::supervisor {

class ForkServer;

class WorkerEvents {
public:
    virtual void on_worker_ready(unsigned slot, std::uint64_t generation) = 0;
    virtual void on_worker_exit(unsigned slot, std::uint64_t generation, ExitInfo exit) = 0;
    virtual void on_worker_log(unsigned slot, std::uint64_t generation) = 0;
    // Exec mode only (`clusterd -- COMMAND`): what the program said and wrote.
    virtual void on_worker_notify(unsigned slot, std::uint64_t generation, const NotifyMessage& message) = 0;
    virtual void on_worker_output(unsigned slot, std::uint64_t generation, OutputStream stream, std::string_view line,
                                  bool cut) = 0;

protected:
    ~WorkerEvents() = default;
};

// A program run through the exec shim (supervisor/exec_shim.hpp) instead of
// this binary's own worker.
struct ExecSpec {
    std::vector<std::string> command;
    std::string notify_socket;        // NOTIFY_SOCKET for the program
    std::uint64_t watchdog_usec = 0;  // WATCHDOG_USEC for the program; 0: not watched
    std::size_t max_line = 16 * 1024; // output lines longer than this are cut
};

struct SpawnRequest {
    std::string executable;
    std::string accepted_config;    // Config::accepted of the configuration generation it starts with
    const char* role = "worker";    // --role: "worker" (HTTP) or "compute"
    unsigned slot = 0;
    std::uint64_t generation = 0;
    std::vector<int> listen_fds;    // empty: none (compute processes)
    std::vector<int> result_fds;    // inherited at child::result_fd_for(0..)
    std::optional<ExecSpec> exec;   // exec mode: the program instead of a native worker
    SegmentFds segment;             // the shared memory (ShmSegment::child_fds); never passed in exec mode
    std::optional<child::Identity> run_as;  // whom the child becomes (a root supervisor with --user)
    bool spare = false;             // an HTTP worker started as a hot spare (--spares): accepts once promoted
    ForkServer* fork_server = nullptr;  // --fork-server: asked first (native HTTP workers only)
};

class WorkerProcess final : private ExecListener {
public:
    // Starts the worker; returns it, or a negative uv error (nothing to clean up then).
    [[nodiscard]] static std::variant<WorkerProcess*, int> spawn(uv_loop_t* loop, const SpawnRequest& request,
                                                                 WorkerEvents& events);

    [[nodiscard]] pid_t pid() const { return pid_; }
    // Started by the fork server (no exec), not by uv_spawn.
    [[nodiscard]] bool forked() const { return forked_; }
    // Sends a signal; a process that is already gone is not an error.
    void kill(int signal);
    // Wakes the worker to read its command ring.
    void wake_for_commands();

    WorkerProcess(const WorkerProcess&) = delete;
    WorkerProcess& operator=(const WorkerProcess&) = delete;

private:
    WorkerProcess(unsigned slot, std::uint64_t generation, WorkerEvents& events);
    ~WorkerProcess() = default;

    void on_exec_notify(const NotifyMessage& message) override;
    void on_exec_output(OutputStream stream, std::string_view line, bool cut) override;

    // Through the fork server; false (nothing started, nothing to undo) when it could not.
    bool start_forked(uv_loop_t* loop, const SpawnRequest& request, const std::vector<uv_stdio_container_t>& stdio,
                      int shm_at);
    static void on_exit(uv_process_t* process, std::int64_t exit_status, int term_signal);
    static void on_pidfd(uv_poll_t* poll, int status, int events);
    void exited(ExitInfo exit);
    static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_closed(uv_handle_t* handle);
    static void on_log_wake(uv_poll_t* poll, int status, int events);
    void close_handles();

    unsigned slot_;
    std::uint64_t generation_;
    WorkerEvents& events_;
    uv_process_t process_{};  // started by uv_spawn
    uv_poll_t exit_poll_{};   // started by the fork server: its pidfd
    int pidfd_ = -1;          // closed with exit_poll_
    bool forked_ = false;
    pid_t pid_ = 0;
    uv_pipe_t ready_channel_{};
    uv_poll_t log_wake_{};
    int log_wake_fd_ = -1;      // the eventfd; closed with the poll handle
    int command_wake_fd_ = -1;  // the other eventfd; closed with the process handle
    char read_buffer_[16]{};
    int open_handles_ = 0;
    std::unique_ptr<ExecChannels> exec_;  // exec mode only; closed with the handles, counted as one
};

}  // namespace clusterd::supervisor
