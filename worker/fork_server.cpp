#include "worker/fork_server.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/child_contract.hpp"
#include "common/exit_codes.hpp"
#include "common/fork_request.hpp"

namespace clusterd::worker {

namespace {

void say(const char* what) { std::fprintf(stderr, "clusterd fork server: %s\n", what); }

// --supervisor-pid from the fork server's arguments; 0 when missing.
pid_t supervisor_pid_in(int argc, char** argv) {
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string_view(argv[i]) == child::supervisor_pid_option) return static_cast<pid_t>(std::atol(argv[i + 1]));
    }
    return 0;
}

struct Received {
    std::string bytes;
    std::vector<int> fds;
    bool closed = false;  // the supervisor closed its end
};

Received receive(int socket) {
    Received received;
    received.bytes.resize(fork_request::max_bytes);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * fork_request::max_fds)];
    iovec io{received.bytes.data(), received.bytes.size()};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        received.closed = true;
        return received;
    }
    received.bytes.resize(static_cast<std::size_t>(n));
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const auto* fds = reinterpret_cast<const int*>(CMSG_DATA(c));
        received.fds.insert(received.fds.end(), fds, fds + count);
    }
    // A request cut short (MSG_TRUNC/MSG_CTRUNC) is no request: its
    // descriptors are closed by the caller like any refused one's.
    if ((message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) received.bytes.clear();
    return received;
}

void answer(int socket, fork_request::Answer reply) {
    // The supervisor waits for exactly one answer per request; it cannot be refused for space.
    (void)!::send(socket, &reply, sizeof reply, MSG_NOSIGNAL);
}

// In the worker: wait until the first child has exited and the kernel has
// handed us to the supervisor (the child subreaper). Reparenting follows the
// first child's exit within microseconds; a parent that is neither after a
// while means the supervisor is gone.
bool wait_for_the_supervisor(pid_t supervisor) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (unsigned spins = 0; ::getppid() != supervisor; ++spins) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        if (spins < 100) {
            sched_yield();
        } else {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }
    return true;
}

// In the worker: every passed descriptor at its number, nothing else open
// besides 0-2, as an exec with uv_spawn's stdio list would leave it.
bool place_descriptors(const std::vector<int>& fds, const std::vector<int>& targets) {
    // First out of the way of every target (a passed fd may sit where another must go).
    int highest = 2;
    for (int target : targets) highest = std::max(highest, target);
    std::vector<int> moved;
    for (int fd : fds) {
        const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, highest + 1);
        if (high < 0) return false;
        moved.push_back(high);
    }
    for (std::size_t i = 0; i < moved.size(); ++i) {
        if (::dup2(moved[i], targets[i]) < 0) return false;  // dup2 clears close-on-exec on the target
    }
    const std::set<int> keep(targets.begin(), targets.end());
    for (int fd = 3; fd <= highest; ++fd) {
        if (keep.count(fd) == 0) ::close(fd);
    }
    ::close_range(static_cast<unsigned>(highest) + 1, ~0U, 0);
    return true;
}

// In the worker: its arguments where `ps` and /proc/<pid>/cmdline look, in
// place of the fork server's (the memory the kernel set up at the fork
// server's exec, which the supervisor padded for this; a longer title is
// cut, which costs only the tail of --accepted-config).
void show_arguments(const std::vector<std::string>& words, int argc, char** argv) {
    char* const start = argv[0];
    char* const end = argv[argc - 1] + std::strlen(argv[argc - 1]);  // the last NUL stays
    char* at = start;
    for (const auto& word : words) {
        if (at >= end) break;
        const std::size_t n = std::min(word.size(), static_cast<std::size_t>(end - at));
        std::memcpy(at, word.data(), n);
        at += n;
        if (at < end) *at++ = '\0';
    }
    std::memset(at, 0, static_cast<std::size_t>(end - at));
}

[[noreturn]] void become_worker(const fork_request::Request& request, const std::vector<int>& fds,
                                pid_t supervisor, const std::function<int(int, char**)>& child_main, int argc,
                                char** own_argv) {
    show_arguments(request.words, argc, own_argv);
    if (!wait_for_the_supervisor(supervisor)) {
        say("a worker it forked was not handed to the supervisor; it exits");
        std::_Exit(exit_code::failure);
    }
    if (!place_descriptors(fds, request.targets)) {
        say("a worker it forked could not place its descriptors; it exits");
        std::_Exit(exit_code::failure);
    }
    // As exec would leave it: no signal blocked (the ignored ones stay ignored).
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<std::string> words = request.words;
    std::vector<char*> argv;
    for (auto& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    std::exit(child_main(static_cast<int>(words.size()), argv.data()));
}

// One request: fork the first child, which forks the worker, answers with
// its pid and exits; reap the first child.
void serve(int socket, const Received& received, pid_t supervisor, const std::function<int(int, char**)>& child_main,
           int argc, char** argv) {
    const auto request = fork_request::decode(received.bytes, received.fds.size());
    if (!request) {
        answer(socket, {0, EINVAL});
        return;
    }
    const pid_t first = ::fork();
    if (first < 0) {
        answer(socket, {0, errno});
        return;
    }
    if (first == 0) {
        const pid_t worker = ::fork();
        if (worker == 0) become_worker(*request, received.fds, supervisor, child_main, argc, argv);
        answer(socket, {worker > 0 ? worker : 0, worker > 0 ? 0 : errno});
        std::_Exit(0);
    }
    int status = 0;
    while (::waitpid(first, &status, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace

bool is_fork_server_argv(int argc, const char* const* argv) {
    return argc > 2 && std::string_view(argv[1]) == child::role_option &&
           std::string_view(argv[2]) == child::fork_server_role;
}

int run_fork_server(int argc, char** argv, const std::function<int(int, char**)>& child_main) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const pid_t supervisor = supervisor_pid_in(argc, argv);
    struct stat request_stat{};
    if (supervisor == 0 || ::getppid() != supervisor || ::fstat(child::fork_server_request_fd, &request_stat) != 0 ||
        !S_ISSOCK(request_stat.st_mode)) {
        say("the forkserver role is started by the supervisor only");
        return exit_code::failure;
    }
    // The supervisor's business, as in every child; inherited by the workers.
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGHUP, SIG_IGN);
    std::signal(SIGUSR1, SIG_IGN);
    std::signal(SIGUSR2, SIG_IGN);
    const char ready = child::ready_byte;
    if (::write(child::ready_fd, &ready, 1) != 1) return exit_code::failure;
    ::close(child::ready_fd);
    const int socket = child::fork_server_request_fd;
    for (;;) {
        Received received = receive(socket);
        if (received.closed) return exit_code::ok;
        serve(socket, received, supervisor, child_main, argc, argv);
        for (int fd : received.fds) ::close(fd);
    }
}

}  // namespace clusterd::worker
