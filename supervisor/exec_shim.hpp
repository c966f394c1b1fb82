// The exec shim: what clusterd runs in a worker slot under
// `clusterd [OPTIONS] -- COMMAND [ARGS...]`, between fork and the user's
// program. It is this same binary, started by the supervisor as
//
//   clusterd --role exec [--run-as UID:GID --dumpable 0|1] --slot S --generation G --supervisor-pid P
//            --listen-fds K [--notify-socket PATH] [--watchdog-usec U] -- COMMAND [ARGS...]
//
// with the child contract's descriptors (common/child_contract.hpp): the
// listening sockets at fd 3 and 8.., and the write end of the notify stream
// at child::exec_notify_fd. It exists because systemd's socket-activation
// protocol names the program's own pid (LISTEN_PID), which only a process
// that then execs (keeping its pid) can know. Under --run-as it has become
// the user already (api/run.cpp, common/child_privileges.hpp), so the program
// starts as that user with no-new-privs and no capability; the kernel makes
// it dumpable again at execve. In order, it:
//   1. sets PR_SET_PDEATHSIG(SIGKILL) and exits if the supervisor is already gone;
//   2. moves the K listening sockets to fds 3 .. 3+K-1 and the notify stream to 3+K,
//      clears their close-on-exec flag and closes every other descriptor above 2;
//   3. sets LISTEN_FDS=K, LISTEN_PID=<its pid>, LISTEN_FDNAMES, NOTIFY_SOCKET,
//      CLUSTERD_NOTIFY_FD=3+K, WATCHDOG_USEC and WATCHDOG_PID (only when the
//      supervisor watches it), CLUSTERD_WORKER_INDEX=S, CLUSTERD_GENERATION=G;
//   4. execvp()s the command; if that fails it says why on stderr and exits
//      127 (126: found but not executable), as a shell does.
#pragma once

namespace clusterd::supervisor {

// Whether argv is the shim's ("--role exec" first).
[[nodiscard]] bool is_exec_shim_argv(int argc, const char* const* argv);

// Runs the shim; returns only on failure, with the exit code.
[[nodiscard]] int run_exec_shim(int argc, char** argv);

}  // namespace clusterd::supervisor
