// What a child process (an HTTP worker or a compute process) gets from the
// supervisor, defined once for both sides: the supervisor's spawn
// (supervisor/worker_process.cpp) writes it, the child's start-up
// (parse_config's child path, worker/, compute_process.cpp) reads it.
//
// Descriptors (everything else the supervisor owns is close-on-exec):
//   0        /dev/null
//   1, 2     the supervisor's stdout and stderr
//   3        the first listening socket (HTTP workers only)
//   4        the write end of a pipe: the child writes ready_byte once it serves
//   5        an eventfd the child bumps after publishing log records
//   6        an eventfd the supervisor bumps after queueing a command
//   7        the first job ring result eventfd (--compute=processes)
//   8 ...    the other listening sockets (an HTTP worker of K sockets: 8 .. 8+K-2),
//            then the further result eventfds (result_fd_for)
//   H, B     after all of those: the shared-memory segment's two memfds
//            (common/shm_segment.hpp), the header always read-only, the body
//            read-write (read-only for the admin worker); their numbers are
//            in the arguments. A program run in exec mode gets neither.
//
// Arguments: argv[0] is the binary, then exactly
//   --role worker|compute|admin [--run-as UID:GID --dumpable 0|1]
//   --slot S --generation G --supervisor-pid P
//   --shm-header-fd H --shm-body-fd B [--listen-fds K] [--spare] --accepted-config TEXT
// where --run-as (a supervisor started as root with --user) is whom the
// child becomes before anything else (common/child_privileges.hpp),
// --spare is an HTTP worker started as a hot spare, which accepts only once
// the supervisor's promote command arrives, and
// where TEXT is the configuration the supervisor accepted for this
// generation, every value as the supervisor resolved it, written by
// encode_config (common/config_image.hpp) and read back without an option
// table. A child
// parses nothing else: no other argument, no --config file, no CLUSTERD_*
// variable (which the supervisor removes from its environment anyway), so an
// edit the supervisor has not accepted can never reach a respawned worker.
//
// Environment: the supervisor's, without CLUSTERD_* and NOTIFY_SOCKET.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/child_privileges.hpp"

namespace clusterd::child {

inline constexpr int listen_fd = 3;
inline constexpr int ready_fd = 4;
inline constexpr int log_wake_fd = 5;
inline constexpr int command_wake_fd = 6;
inline constexpr int first_result_fd = 7;
inline constexpr int first_extra_listen_fd = 8;
inline constexpr char ready_byte = 'R';

// The exec role (`clusterd -- COMMAND`, supervisor/exec_shim.hpp): the shim
// gets the listening sockets as above and, at the ready fd, the write end of
// the notify stream: the program's sd_notify lines ("READY=1\n"), which the
// shim moves to fd 3+K and names in CLUSTERD_NOTIFY_FD.
inline constexpr const char* exec_role = "exec";
inline constexpr int exec_notify_fd = ready_fd;
inline constexpr const char* exec_notify_fd_env = "CLUSTERD_NOTIFY_FD";

// The fork server (--fork-server, worker/fork_server.hpp): its own role, its
// request socket at fd 3 and its ready pipe at fd 4.
inline constexpr const char* fork_server_role = "forkserver";
inline constexpr int fork_server_request_fd = 3;

// The fd of listening socket `index` (0: fd 3, 1: fd 8, ...).
[[nodiscard]] constexpr int listen_fd_for(unsigned index) {
    return index == 0 ? listen_fd : first_extra_listen_fd + static_cast<int>(index) - 1;
}

// The fd of result eventfd `index`: index 0 is always fd 7; further ones (a
// compute process gets one per HTTP slot, a --model=threads worker one per
// event loop) follow the extra listening sockets.
[[nodiscard]] constexpr int result_fd_for(unsigned index, unsigned listen_count) {
    const unsigned extra_listeners = listen_count > 1 ? listen_count - 1 : 0;
    return index == 0 ? first_result_fd : first_result_fd + static_cast<int>(extra_listeners + index);
}

static_assert(result_fd_for(0, 3) == 7);
static_assert(result_fd_for(1, 1) == 8);
static_assert(result_fd_for(1, 0) == 8);
static_assert(result_fd_for(2, 3) == 11);  // fds 8 and 9 are the two extra listening sockets
static_assert(listen_fd_for(2) == 9);

// The one CLUSTERD_* variable that is no option: a new supervisor started by
// a binary upgrade finds its "ready" pipe by it (supervisor/upgrade.hpp).
inline constexpr const char* upgrade_ready_env = "CLUSTERD_UPGRADE_READY_FD";

// The argument names of the contract.
inline constexpr const char* role_option = "--role";
inline constexpr const char* slot_option = "--slot";
inline constexpr const char* generation_option = "--generation";
inline constexpr const char* supervisor_pid_option = "--supervisor-pid";
inline constexpr const char* listen_fds_option = "--listen-fds";
inline constexpr const char* shm_header_fd_option = "--shm-header-fd";
inline constexpr const char* shm_body_fd_option = "--shm-body-fd";
inline constexpr const char* accepted_config_option = "--accepted-config";
inline constexpr const char* spare_option = "--spare";
inline constexpr const char* notify_socket_option = "--notify-socket";  // exec role only
inline constexpr const char* watchdog_usec_option = "--watchdog-usec";  // exec role only
inline constexpr const char* run_as_option = "--run-as";      // UID:GID (common/child_privileges.hpp)
inline constexpr const char* dumpable_option = "--dumpable";  // 0 or 1, with --run-as

struct Arguments {
    std::string role;  // "worker" or "compute"
    unsigned slot = 0;
    unsigned long long generation = 0;
    int supervisor_pid = 0;
    unsigned listen_count = 0;
    std::string accepted_config;
    int shm_header_fd = -1;
    int shm_body_fd = -1;
    std::optional<Identity> run_as;  // whom the child becomes; none: it keeps the supervisor's ids
    bool spare = false;  // --spare
};

// "--run-as UID:GID --dumpable 0|1", or nothing without an identity.
[[nodiscard]] std::vector<std::string> run_as_words(const std::optional<Identity>& run_as);

// argv[1..] for a child.
[[nodiscard]] std::vector<std::string> argv_for(const Arguments& arguments);

// The environment a child gets: `parent` (NAME=value entries) without
// CLUSTERD_* and NOTIFY_SOCKET.
[[nodiscard]] std::vector<std::string> environment_for(const char* const* parent);

// argv- or envp-style pointers into `words`, ending in a null pointer, for
// uv_spawn (valid while `words` lives and is not changed).
[[nodiscard]] std::vector<char*> null_terminated(std::vector<std::string>& words);

// Whether argv is a child's (its first argument is --role).
[[nodiscard]] bool is_child_argv(int argc, const char* const* argv);

}  // namespace clusterd::child
