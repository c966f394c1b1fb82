// fork() for the process tests: the child dies with the test process
// (PR_SET_PDEATHSIG, plus the check for a parent that died before it was set)
// and never returns into Catch. Only the parent sees the return value: the
// child's pid, or -1 with errno.
#pragma once

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

template <typename Run>
[[nodiscard]] pid_t fork_child(Run&& run) {
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(1);
        run();
        ::_exit(1);
    }
    return pid;
}
