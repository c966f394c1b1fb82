#include "supervisor/exec_shim.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/child_contract.hpp"
#include "common/exit_codes.hpp"

namespace clusterd::supervisor {

namespace {

struct ShimArguments {
    std::string slot;
    std::string generation;
    pid_t supervisor_pid = 0;
    unsigned listen_count = 0;
    std::string notify_socket;
    std::string watchdog_usec;
    std::vector<char*> command;  // null-terminated for execvp
};

[[noreturn]] void fail(const std::string& what, int code) {
    const std::string line = "clusterd exec: " + what + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
    std::_Exit(code);
}

// The supervisor is the only caller, so a wrong argument is a bug in it, said plainly.
ShimArguments parse(int argc, char** argv) {
    ShimArguments parsed;
    int i = 1;
    for (; i < argc && std::string_view(argv[i]) != "--"; i += 2) {
        const std::string_view name = argv[i];
        if (i + 1 >= argc) fail("option " + std::string(name) + " has no value", exit_code::config_error);
        const char* value = argv[i + 1];
        // --run-as and --dumpable were acted on before (api/run.cpp).
        if (name == child::role_option || name == child::run_as_option || name == child::dumpable_option) continue;
        if (name == child::slot_option) parsed.slot = value;
        else if (name == child::generation_option) parsed.generation = value;
        else if (name == child::supervisor_pid_option) parsed.supervisor_pid = static_cast<pid_t>(std::atol(value));
        else if (name == child::listen_fds_option) parsed.listen_count = static_cast<unsigned>(std::atoi(value));
        else if (name == child::notify_socket_option) parsed.notify_socket = value;
        else if (name == child::watchdog_usec_option) parsed.watchdog_usec = value;
        else fail("unknown option " + std::string(name) + " from the supervisor", exit_code::config_error);
    }
    if (i >= argc || i + 1 >= argc) fail("no command after --", exit_code::config_error);
    if (parsed.listen_count == 0 || parsed.listen_count > 16) fail("--listen-fds must be 1..16", exit_code::config_error);
    for (++i; i < argc; ++i) parsed.command.push_back(argv[i]);
    parsed.command.push_back(nullptr);
    return parsed;
}

// The listening sockets to 3 .. 3+K-1 and the notify stream to 3+K, as
// socket activation lays them out. Every source is first copied above all
// sources and targets, so moving one never overwrites another still to move.
void lay_out_descriptors(unsigned listen_count) {
    std::vector<int> sources;
    for (unsigned k = 0; k < listen_count; ++k) sources.push_back(child::listen_fd_for(k));
    sources.push_back(child::exec_notify_fd);
    const int notify_target = child::listen_fd + static_cast<int>(listen_count);
    const int above = std::max(*std::max_element(sources.begin(), sources.end()), notify_target) + 1;
    std::vector<int> copies;
    for (int fd : sources) {
        const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, above);
        if (copy < 0) fail("descriptor " + std::to_string(fd) + " from the supervisor: " + std::strerror(errno), 1);
        copies.push_back(copy);
    }
    for (std::size_t i = 0; i < copies.size(); ++i) {
        const int target = child::listen_fd + static_cast<int>(i);  // the notify stream lands at 3+K
        if (::dup2(copies[i], target) < 0) fail("dup2() to fd " + std::to_string(target) + ": " + std::strerror(errno), 1);
    }
    // Nothing else of the supervisor's reaches the program: not the log and
    // command eventfds, not the copies just made.
    if (::close_range(static_cast<unsigned>(notify_target) + 1, ~0u, 0) != 0) {
        fail(std::string("close_range(): ") + std::strerror(errno), 1);
    }
}

void set(const char* name, const std::string& value) {
    if (::setenv(name, value.c_str(), 1) != 0) fail(std::string("setenv(") + name + "): " + std::strerror(errno), 1);
}

void set_environment(const ShimArguments& args) {
    const std::string pid = std::to_string(::getpid());
    set("LISTEN_FDS", std::to_string(args.listen_count));
    set("LISTEN_PID", pid);
    std::string names = "http";
    for (unsigned k = 1; k < args.listen_count; ++k) names += ":http";
    set("LISTEN_FDNAMES", names);
    set(child::exec_notify_fd_env, std::to_string(child::listen_fd + static_cast<int>(args.listen_count)));
    set("CLUSTERD_WORKER_INDEX", args.slot);
    set("CLUSTERD_GENERATION", args.generation);
    if (!args.notify_socket.empty()) set("NOTIFY_SOCKET", args.notify_socket);
    if (!args.watchdog_usec.empty() && args.watchdog_usec != "0") {
        set("WATCHDOG_USEC", args.watchdog_usec);
        set("WATCHDOG_PID", pid);
    }
}

}  // namespace

bool is_exec_shim_argv(int argc, const char* const* argv) {
    return argc > 2 && std::string_view(argv[1]) == child::role_option && std::string_view(argv[2]) == child::exec_role;
}

int run_exec_shim(int argc, char** argv) {
    const ShimArguments args = parse(argc, argv);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != args.supervisor_pid) return 1;  // the supervisor died before the prctl
    lay_out_descriptors(args.listen_count);
    set_environment(args);
    ::execvp(args.command[0], args.command.data());
    const int error = errno;
    fail(std::string("cannot run '") + args.command[0] + "': " + std::strerror(error),
         error == EACCES || error == ENOEXEC ? 126 : 127);
}

}  // namespace clusterd::supervisor
