// Binary upgrade (SIGUSR2, `clusterd upgrade`), as nginx does it: the running
// supervisor starts its executable anew (the file at the path it was started
// from, so a package upgrade's new binary) with the listening socket passed
// by the socket-activation protocol, from fd 3 on with LISTEN_FDS=K. The new
// supervisor builds its own cluster and segment, and reports ready on a
// pipe (fd 3 + K, named by CLUSTERD_UPGRADE_READY_FD) once all its workers are
// ready. Only then does the old one drain and exit; a new binary that exits
// or stays silent instead is killed and forgotten, and the old cluster keeps
// serving. The socket is never closed in between, so no connection is refused.
//
// LISTEN_PID must name the new process, whose pid is not known before the
// fork: a /bin/sh sets it to its own pid ($$) and execs the binary in place.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "common/child_contract.hpp"
#include "common/unique_fd.hpp"

namespace clusterd::supervisor {

inline constexpr const char* upgrade_ready_env = child::upgrade_ready_env;

struct UpgradeRequest {
    std::string executable;
    std::vector<std::string> args;  // without argv[0]
    std::vector<int> listen_fds;    // handed on as fds 3, 4, ... (LISTEN_FDNAMES: "http" each)
    int admin_fd = -1;              // --admin-listen's socket, after them, named "admin"; -1: none
    std::string notify_socket;      // handed on, so the new supervisor can speak to systemd once it is main
};

// The new supervisor while it starts. Deletes itself once its handles are
// closed, which begins after on_exit has been called; the owner drops its
// pointer there.
class UpgradeProcess {
public:
    struct Events {
        std::function<void()> on_ready;
        std::function<void(std::string how)> on_exit;  // "exited with code 2", "killed by SIGKILL"
    };

    // The new process, or a negative uv error.
    [[nodiscard]] static std::variant<UpgradeProcess*, int> spawn(uv_loop_t* loop, const UpgradeRequest& request,
                                                                  Events events);
    [[nodiscard]] pid_t pid() const { return process_.pid; }
    void kill(int signal);
    // After it reported ready: stop watching it (it outlives us).
    void release();

    UpgradeProcess(const UpgradeProcess&) = delete;
    UpgradeProcess& operator=(const UpgradeProcess&) = delete;

private:
    explicit UpgradeProcess(Events events) : events_(std::move(events)) {}
    ~UpgradeProcess() = default;
    static void on_process_exit(uv_process_t* process, std::int64_t exit_status, int term_signal);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    void close_handles();

    Events events_;
    uv_process_t process_{};
    uv_pipe_t ready_{};
    char buffer_[8]{};
    int open_handles_ = 0;
    bool closing_ = false;
};

// The new supervisor's side: the fd named by CLUSTERD_UPGRADE_READY_FD (taken
// out of the environment), or an empty UniqueFd when this is no upgrade.
[[nodiscard]] UniqueFd take_upgrade_ready_fd();

// Writes the one "ready" byte and closes the fd.
void report_upgrade_ready(UniqueFd& fd);

}  // namespace clusterd::supervisor
