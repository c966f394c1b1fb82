#include "supervisor/worker_process.hpp"

#include "common/child_contract.hpp"
#include "supervisor/fork_server.hpp"
#include "supervisor/own_children.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

extern char** environ;

namespace clusterd::supervisor {

namespace {

// shm_at: where the child finds the segment's header; the body follows it.
std::vector<std::string> native_argv(const SpawnRequest& request, int shm_at) {
    std::vector<std::string> words{request.executable};
    const auto listen_count = static_cast<unsigned>(request.listen_fds.size());
    for (auto& word : child::argv_for({request.role, request.slot, request.generation, getpid(), listen_count,
                                       request.accepted_config, shm_at, shm_at + 1, request.run_as,
                                       request.spare})) {
        words.push_back(std::move(word));
    }
    return words;
}

// The shim's arguments (supervisor/exec_shim.hpp), then the program's.
std::vector<std::string> exec_argv(const SpawnRequest& request) {
    std::vector<std::string> words{request.executable, child::role_option, child::exec_role};
    for (auto& word : child::run_as_words(request.run_as)) words.push_back(std::move(word));
    words.insert(words.end(), {child::slot_option, std::to_string(request.slot), child::generation_option,
                               std::to_string(request.generation), child::supervisor_pid_option,
                               std::to_string(getpid()), child::listen_fds_option,
                               std::to_string(request.listen_fds.size()), child::notify_socket_option,
                               request.exec->notify_socket, child::watchdog_usec_option,
                               std::to_string(request.exec->watchdog_usec), "--"});
    words.insert(words.end(), request.exec->command.begin(), request.exec->command.end());
    return words;
}

// waitid's P_PIDFD (Linux 5.4), which glibc 2.36's idtype_t does not name yet.
constexpr auto p_pidfd = static_cast<idtype_t>(3);

// glibc 2.36's <sys/pidfd.h> declares these without extern "C", so C++
// cannot link them: the system calls directly.
int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int signal_pidfd(int pidfd, int signal) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0)); }

}  // namespace

WorkerProcess::WorkerProcess(unsigned slot, std::uint64_t generation, WorkerEvents& events)
    : slot_(slot), generation_(generation), events_(events) {}

std::variant<WorkerProcess*, int> WorkerProcess::spawn(uv_loop_t* loop, const SpawnRequest& request,
                                                       WorkerEvents& events) {
    const int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) return uv_translate_sys_error(errno);
    const int command_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (command_fd < 0) {
        const int error = errno;
        ::close(wake_fd);
        return uv_translate_sys_error(error);
    }
    auto* worker = new WorkerProcess(request.slot, request.generation, events);
    uv_pipe_init(loop, &worker->ready_channel_, 0);
    worker->ready_channel_.data = worker;
    worker->process_.data = worker;
    worker->log_wake_fd_ = wake_fd;
    worker->command_wake_fd_ = command_fd;
    uv_poll_init(loop, &worker->log_wake_, wake_fd);
    worker->log_wake_.data = worker;
    worker->open_handles_ = 1;

    const auto listen_count = static_cast<unsigned>(request.listen_fds.size());
    std::size_t stdio_count = child::first_result_fd;
    if (listen_count > 1) stdio_count = static_cast<std::size_t>(child::listen_fd_for(listen_count - 1)) + 1;
    if (!request.result_fds.empty()) {
        const auto last = static_cast<unsigned>(request.result_fds.size() - 1);
        const auto last_fd = static_cast<std::size_t>(child::result_fd_for(last, listen_count));
        stdio_count = std::max(stdio_count, last_fd + 1);
    }
    // The segment's two memfds go after everything else, and only to our own
    // children: a program run in exec mode never sees them.
    const bool shares_segment = !request.exec && request.segment.header >= 0 && request.segment.body >= 0;
    const int shm_at = static_cast<int>(stdio_count);
    if (shares_segment) stdio_count += 2;

    std::vector<std::string> words = request.exec ? exec_argv(request) : native_argv(request, shm_at);
    std::vector<char*> argv = child::null_terminated(words);
    std::vector<std::string> environment = child::environment_for(environ);
    std::vector<char*> envp = child::null_terminated(environment);

    std::vector<uv_stdio_container_t> stdio(stdio_count);
    for (auto& entry : stdio) entry.flags = UV_IGNORE;  // a gap (fd 7 without a result fd) stays closed
    if (request.exec) {
        ExecListener& listener = *worker;  // a private base: only WorkerProcess hands itself on
        worker->exec_ = std::make_unique<ExecChannels>(loop, listener, request.exec->notify_socket,
                                                       request.exec->max_line);
        worker->exec_->prepare_stdio(stdio[1], stdio[2]);
    } else {
        stdio[1].flags = UV_INHERIT_FD;
        stdio[1].data.fd = 1;
        stdio[2].flags = UV_INHERIT_FD;
        stdio[2].data.fd = 2;
    }
    if (!request.listen_fds.empty()) {
        stdio[child::listen_fd].flags = UV_INHERIT_FD;
        stdio[child::listen_fd].data.fd = request.listen_fds[0];
    }
    stdio[child::ready_fd].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[child::ready_fd].data.stream = reinterpret_cast<uv_stream_t*>(&worker->ready_channel_);
    stdio[child::log_wake_fd].flags = UV_INHERIT_FD;
    stdio[child::log_wake_fd].data.fd = wake_fd;
    stdio[child::command_wake_fd].flags = UV_INHERIT_FD;
    stdio[child::command_wake_fd].data.fd = command_fd;
    for (unsigned i = 0; i < request.result_fds.size(); ++i) {
        const auto at = static_cast<std::size_t>(child::result_fd_for(i, listen_count));
        stdio[at].flags = UV_INHERIT_FD;
        stdio[at].data.fd = request.result_fds[i];
    }
    for (unsigned i = 1; i < listen_count; ++i) {
        const auto at = static_cast<std::size_t>(child::listen_fd_for(i));
        stdio[at].flags = UV_INHERIT_FD;
        stdio[at].data.fd = request.listen_fds[i];
    }
    if (shares_segment) {
        stdio[static_cast<std::size_t>(shm_at)].flags = UV_INHERIT_FD;
        stdio[static_cast<std::size_t>(shm_at)].data.fd = request.segment.header;
        stdio[static_cast<std::size_t>(shm_at) + 1].flags = UV_INHERIT_FD;
        stdio[static_cast<std::size_t>(shm_at) + 1].data.fd = request.segment.body;
    }

    if (request.fork_server != nullptr && request.fork_server->ready() && !request.exec &&
        worker->start_forked(loop, request, stdio, shm_at)) {
        worker->open_handles_ = 3;
        own_child(worker->pid_);
        uv_read_start(reinterpret_cast<uv_stream_t*>(&worker->ready_channel_), on_alloc, on_read);
        uv_poll_start(&worker->log_wake_, UV_READABLE, on_log_wake);
        return worker;
    }

    uv_process_options_t options{};
    options.exit_cb = on_exit;
    options.file = argv[0];
    options.args = argv.data();
    options.env = envp.data();
    options.stdio = stdio.data();
    options.stdio_count = static_cast<int>(stdio.size());

    if (int rc = uv_spawn(loop, &worker->process_, &options); rc != 0) {
        // libuv requires closing the process handle even when the spawn failed.
        worker->open_handles_ = worker->exec_ ? 4 : 3;
        worker->close_handles();
        return rc;
    }
    worker->open_handles_ = worker->exec_ ? 4 : 3;
    worker->pid_ = worker->process_.pid;
    own_child(worker->pid_);
    if (worker->exec_) {
        if (auto error = worker->exec_->start(worker->process_.pid)) {
            spdlog::warn("worker {}: {}; it can still say READY=1 on its notify stream", request.slot, *error);
        }
    }
    uv_read_start(reinterpret_cast<uv_stream_t*>(&worker->ready_channel_), on_alloc, on_read);
    uv_poll_start(&worker->log_wake_, UV_READABLE, on_log_wake);
    return worker;
}

bool WorkerProcess::start_forked(uv_loop_t* loop, const SpawnRequest& request,
                                 const std::vector<uv_stdio_container_t>& stdio, int shm_at) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return false;
    fork_request::Request fork;
    // The fork server became --run-as at its own start, and so is every
    // worker it forks: the words carry no identity to become again.
    SpawnRequest as_is = request;
    as_is.run_as.reset();
    fork.words = native_argv(as_is, shm_at);
    std::vector<int> fds;
    for (std::size_t at = 3; at < stdio.size(); ++at) {
        if (static_cast<int>(at) == child::ready_fd) {
            fork.targets.push_back(child::ready_fd);
            fds.push_back(ready[1]);
        } else if (stdio[at].flags == UV_INHERIT_FD) {
            fork.targets.push_back(static_cast<int>(at));
            fds.push_back(stdio[at].data.fd);
        }
    }
    auto started = request.fork_server->start_worker(fork, fds);
    ::close(ready[1]);
    if (started.pid <= 0) {
        ::close(ready[0]);
        spdlog::debug("worker {}: the fork server did not start it ({}); spawning it", request.slot,
                      std::strerror(started.error));
        return false;
    }
    const pid_t pid = started.pid;
    const int pidfd = open_pidfd(pid);
    if (pidfd < 0) {
        // Started but not watchable: it must not run unsupervised.
        spdlog::error("pidfd_open() failed for worker {} (pid {}): {}; killing it and spawning another",
                      request.slot, pid, std::strerror(errno));
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        ::close(ready[0]);
        return false;
    }
    forked_ = true;
    pid_ = pid;
    pidfd_ = pidfd;
    uv_pipe_open(&ready_channel_, ready[0]);
    uv_poll_init(loop, &exit_poll_, pidfd_);
    exit_poll_.data = this;
    uv_poll_start(&exit_poll_, UV_READABLE, on_pidfd);
    return true;
}

void WorkerProcess::kill(int signal) {
    if (forked_) {
        if (signal_pidfd(pidfd_, signal) != 0 && errno != ESRCH) {
            spdlog::error("pidfd_send_signal() failed while sending {} to worker {} (pid {}): {}",
                          sigabbrev_np(signal), slot_, pid_, std::strerror(errno));
        }
        return;
    }
    if (int rc = uv_process_kill(&process_, signal); rc != 0 && rc != UV_ESRCH) {
        spdlog::error("kill() failed while sending {} to worker {} (pid {}): {}", sigabbrev_np(signal), slot_,
                      process_.pid, uv_strerror(rc));
    }
}

void WorkerProcess::on_pidfd(uv_poll_t* poll, int, int) {
    auto* self = static_cast<WorkerProcess*>(poll->data);
    siginfo_t info{};
    if (::waitid(p_pidfd, static_cast<id_t>(self->pidfd_), &info, WEXITED | WNOHANG) != 0) {
        if (errno == EINTR) return;  // readable still: the loop calls again
        spdlog::error("waitid() failed for worker {} (pid {}): {}", self->slot_, self->pid_, std::strerror(errno));
        uv_poll_stop(poll);
        self->exited(ExitInfo::exited(255));
        return;
    }
    if (info.si_pid == 0) return;  // not exited yet
    uv_poll_stop(poll);
    self->exited(info.si_code == CLD_EXITED ? ExitInfo::exited(info.si_status) : ExitInfo::signaled(info.si_status));
}

void WorkerProcess::wake_for_commands() {
    const std::uint64_t one = 1;
    // EAGAIN: the counter is saturated, a wake-up is pending anyway.
    (void)!::write(command_wake_fd_, &one, sizeof one);
}

void WorkerProcess::on_exit(uv_process_t* process, std::int64_t exit_status, int term_signal) {
    static_cast<WorkerProcess*>(process->data)->exited(ExitInfo::from_uv(exit_status, term_signal));
}

void WorkerProcess::exited(ExitInfo exit) {
    disown_child(pid_);
    // Close first: the owner drops its pointer in on_worker_exit, and the
    // deletion happens later, in the close callbacks.
    close_handles();
    events_.on_worker_exit(slot_, generation_, exit);
}

void WorkerProcess::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
    auto* self = static_cast<WorkerProcess*>(handle->data);
    *buf = uv_buf_init(self->read_buffer_, sizeof self->read_buffer_);
}

void WorkerProcess::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<WorkerProcess*>(stream->data);
    if (nread < 0) {  // EOF or error: the exit callback tells the rest
        uv_read_stop(stream);
        return;
    }
    if (self->exec_) {
        self->exec_->feed_notify_stream(std::string_view(buf->base, static_cast<std::size_t>(nread)));
        return;
    }
    for (ssize_t i = 0; i < nread; ++i) {
        if (buf->base[i] == child::ready_byte) self->events_.on_worker_ready(self->slot_, self->generation_);
    }
}

void WorkerProcess::on_exec_notify(const NotifyMessage& message) {
    events_.on_worker_notify(slot_, generation_, message);
}

void WorkerProcess::on_exec_output(OutputStream stream, std::string_view line, bool cut) {
    events_.on_worker_output(slot_, generation_, stream, line, cut);
}

void WorkerProcess::close_handles() {
    if (exec_) {
        exec_->close([this] {
            if (--open_handles_ == 0) delete this;
        });
    }
    if (forked_) {
        uv_close(reinterpret_cast<uv_handle_t*>(&exit_poll_), on_closed);
    } else {
        uv_close(reinterpret_cast<uv_handle_t*>(&process_), on_closed);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&ready_channel_), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&log_wake_), on_closed);
}

void WorkerProcess::on_log_wake(uv_poll_t* poll, int status, int) {
    auto* self = static_cast<WorkerProcess*>(poll->data);
    std::uint64_t count = 0;
    // Reading resets the eventfd, so one wake-up covers every record so far.
    if (status == 0) (void)!::read(self->log_wake_fd_, &count, sizeof count);
    self->events_.on_worker_log(self->slot_, self->generation_);
}

void WorkerProcess::on_closed(uv_handle_t* handle) {
    auto* self = static_cast<WorkerProcess*>(handle->data);
    if (handle == reinterpret_cast<uv_handle_t*>(&self->log_wake_)) ::close(self->log_wake_fd_);
    if (handle == reinterpret_cast<uv_handle_t*>(&self->process_) ||
        handle == reinterpret_cast<uv_handle_t*>(&self->exit_poll_)) {
        ::close(self->command_wake_fd_);
    }
    if (handle == reinterpret_cast<uv_handle_t*>(&self->exit_poll_)) ::close(self->pidfd_);
    if (--self->open_handles_ == 0) delete self;
}

}  // namespace clusterd::supervisor
