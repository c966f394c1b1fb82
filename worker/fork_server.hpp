// The fork server (--fork-server): one process of this binary, exec'd once
// by the supervisor and then kept waiting, which starts HTTP workers by fork
// instead of the supervisor's fork+exec. A worker started so skips what every
// exec pays before main(): the kernel's loading of the binary, the dynamic
// loader, the C library's start (on a virtual machine whose CPUID instruction
// traps, glibc's ~80 CPUID calls alone are ~0.7 ms) and the static
// initialisers (docs/BENCHMARKS.md, "Cold start").
//
// The price is what exec gives and fork does not: every worker started so
// has the fork server's address layout and stack canary, so an address that
// leaks from one worker is valid in all of them (docs/SECURITY.md). Off by
// default for that reason.
//
// What it is started with (supervisor/fork_server.hpp):
//   --role forkserver [--run-as UID:GID --dumpable 0|1] --supervisor-pid P ROOM
// where ROOM is a word of spaces: room in the argument memory for each
// worker's own arguments, which it writes there for `ps` to show;
//   fd 3  its end of the request socket (SOCK_SEQPACKET)
//   fd 4  the ready pipe: it writes child::ready_byte once it waits for requests
// It becomes --run-as first thing, like every child, so the workers it forks
// are that user already; it starts no thread, maps no shared memory and
// holds no descriptor of the supervisor's beyond these.
//
// For each request (common/fork_request.hpp) it forks twice: the first child
// forks the worker and exits at once, so the worker is reparented to the
// supervisor (a child subreaper while a fork server runs) and is the
// supervisor's child as if it had spawned it: the supervisor gets its exit
// status, and the worker's parent-death signal is tied to the supervisor.
// The first child answers with the worker's pid. The worker waits until its
// parent is the supervisor, places the passed descriptors at their numbers,
// closes every other one, and then runs `child_main` with the request's
// arguments, as a freshly exec'd worker would run main().
//
// It exits when the supervisor closes the socket, and with the supervisor
// (parent-death signal).
#pragma once

#include <functional>

namespace clusterd::worker {

// Whether argv is the fork server's (argv[1..2] = --role forkserver).
[[nodiscard]] bool is_fork_server_argv(int argc, const char* const* argv);

// The fork server's main; `child_main` is what a worker it starts runs (the
// application's clusterd::run). Returns the exit code.
int run_fork_server(int argc, char** argv, const std::function<int(int, char**)>& child_main);

}  // namespace clusterd::worker
