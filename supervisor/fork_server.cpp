#include "supervisor/fork_server.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/child_contract.hpp"
#include "supervisor/exit_info.hpp"
#include "supervisor/own_children.hpp"

extern char** environ;

namespace clusterd::supervisor {

namespace {

// How long a start may take to be answered before the fork server is
// judged wedged (stopped, swapped out, looping) and replaced; the worker
// is then spawned the usual way.
constexpr int answer_timeout_ms = 1000;
constexpr std::size_t title_room = 256;

}  // namespace

ForkServer::ForkServer(uv_loop_t* loop, std::string executable, Policy policy)
    : loop_(loop), executable_(std::move(executable)), policy_(std::move(policy)) {
    uv_timer_init(loop_, &restart_timer_);
    restart_timer_.data = this;
    next_backoff_ = Millis{0};
}

void ForkServer::start() { spawn(); }

void ForkServer::spawn() {
    if (stopping_ || running_) return;
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
        fail(std::string("socketpair() failed: ") + std::strerror(errno));
        return;
    }
    socket_.reset(pair[0]);
    UniqueFd theirs(pair[1]);

    std::vector<std::string> words{executable_, child::role_option, child::fork_server_role};
    for (auto& word : child::run_as_words(policy_.run_as)) words.push_back(std::move(word));
    words.insert(words.end(), {child::supervisor_pid_option, std::to_string(::getpid())});
    // Room for each worker's own arguments up to its configuration text (worker/fork_server.hpp).
    words.emplace_back(title_room, ' ');
    std::vector<char*> argv = child::null_terminated(words);
    std::vector<std::string> environment = child::environment_for(environ);
    std::vector<char*> envp = child::null_terminated(environment);

    uv_pipe_init(loop_, &ready_pipe_, 0);
    ready_pipe_.data = this;
    process_ = {};
    process_.data = this;
    uv_stdio_container_t stdio[child::ready_fd + 1];
    for (auto& entry : stdio) entry.flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 1;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    stdio[child::fork_server_request_fd].flags = UV_INHERIT_FD;
    stdio[child::fork_server_request_fd].data.fd = theirs.get();
    stdio[child::ready_fd].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[child::ready_fd].data.stream = reinterpret_cast<uv_stream_t*>(&ready_pipe_);
    uv_process_options_t options{};
    options.exit_cb = on_exit;
    options.file = argv[0];
    options.args = argv.data();
    options.env = envp.data();
    options.stdio = stdio;
    options.stdio_count = static_cast<int>(std::size(stdio));
    const int rc = uv_spawn(loop_, &process_, &options);
    open_handles_ = 2;
    running_ = true;
    if (rc != 0) {
        // libuv wants the process handle closed even when the spawn failed.
        uv_close(reinterpret_cast<uv_handle_t*>(&process_), on_closed);
        uv_close(reinterpret_cast<uv_handle_t*>(&ready_pipe_), on_closed);
        socket_.reset();
        fail(std::string("uv_spawn() failed: ") + uv_strerror(rc));
        return;
    }
    own_child(process_.pid);
    started_at_ = std::chrono::steady_clock::now();
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&ready_pipe_),
        [](uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
            auto* self = static_cast<ForkServer*>(handle->data);
            *buf = uv_buf_init(self->read_buffer_, sizeof self->read_buffer_);
        },
        on_ready_read);
}

void ForkServer::on_ready_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<ForkServer*>(stream->data);
    if (nread < 0) {
        uv_read_stop(stream);
        return;
    }
    if (std::find(buf->base, buf->base + nread, child::ready_byte) == buf->base + nread) return;
    self->ready_ = true;
    spdlog::info("fork server (pid {}) ready: HTTP workers start by fork, without exec", self->process_.pid);
}

fork_request::Answer ForkServer::start_worker(const fork_request::Request& request, const std::vector<int>& fds) {
    if (!ready_) return {0, EAGAIN};
    if (fds.size() != request.targets.size() || fds.size() > fork_request::max_fds) return {0, EINVAL};
    std::string bytes = fork_request::encode(request);
    if (bytes.size() > fork_request::max_bytes) return {0, E2BIG};
    iovec io{bytes.data(), bytes.size()};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * fork_request::max_fds)]{};
    if (!fds.empty()) {
        message.msg_control = control;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* c = CMSG_FIRSTHDR(&message);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t sent;
    do {
        sent = ::sendmsg(socket_.get(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        const int error = errno;
        fail(std::string("a start request could not be sent: ") + std::strerror(error));
        return {0, error};
    }
    // The answer follows within a fork or two; the loop waits for it as it
    // waits for uv_spawn's exec.
    pollfd wait{socket_.get(), POLLIN, 0};
    int ready;
    do {
        ready = ::poll(&wait, 1, answer_timeout_ms);
    } while (ready < 0 && errno == EINTR);
    fork_request::Answer answer;
    const ssize_t got = ready == 1 ? ::recv(socket_.get(), &answer, sizeof answer, MSG_DONTWAIT) : -1;
    if (got != static_cast<ssize_t>(sizeof answer)) {
        fail(ready == 0 ? "a start request was not answered within 1 s" : "a start request got no answer");
        return {0, ETIMEDOUT};
    }
    if (answer.pid <= 0 && answer.error == 0) answer.error = EIO;
    return answer;
}

void ForkServer::fail(const std::string& why) {
    spdlog::warn("fork server: {}; HTTP workers start by exec until it is back", why);
    ready_ = false;
    socket_.reset();
    if (running_ && open_handles_ == 2) {
        uv_process_kill(&process_, SIGKILL);  // its exit schedules the next one
    } else if (!running_ && !stopping_) {
        uv_timer_start(&restart_timer_, on_restart_timer, static_cast<std::uint64_t>(next_backoff_.count()), 0);
    }
}

void ForkServer::on_exit(uv_process_t* process, std::int64_t exit_status, int term_signal) {
    auto* self = static_cast<ForkServer*>(process->data);
    disown_child(process->pid);
    self->ready_ = false;
    self->socket_.reset();
    const ExitInfo exit = ExitInfo::from_uv(exit_status, term_signal);
    const auto lived =
        std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - self->started_at_);
    if (lived >= Millis{1000}) self->next_backoff_ = Millis{0};
    if (!self->stopping_) {
        spdlog::warn("fork server (pid {}) {} after {}; HTTP workers start by exec until another is ready{}",
                     process->pid, describe(exit), format_duration(lived),
                     self->next_backoff_.count() == 0 ? "" : " (in " + format_duration(self->next_backoff_) + ")");
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&self->process_), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->ready_pipe_), on_closed);
}

void ForkServer::on_closed(uv_handle_t* handle) {
    auto* self = static_cast<ForkServer*>(handle->data);
    if (--self->open_handles_ > 0) return;
    self->running_ = false;
    if (self->stopping_ || self->closed_) return;
    uv_timer_start(&self->restart_timer_, on_restart_timer, static_cast<std::uint64_t>(self->next_backoff_.count()),
                   0);
    self->next_backoff_ = std::clamp(self->next_backoff_ * 2, self->policy_.backoff_initial, self->policy_.backoff_max);
}

void ForkServer::on_restart_timer(uv_timer_t* timer) { static_cast<ForkServer*>(timer->data)->spawn(); }

void ForkServer::stop() {
    stopping_ = true;
    ready_ = false;
    uv_timer_stop(&restart_timer_);
    socket_.reset();  // EOF: it exits
}

void ForkServer::close() {
    if (closed_) return;
    closed_ = true;
    stop();
    if (running_ && open_handles_ == 2) uv_process_kill(&process_, SIGKILL);
    uv_close(reinterpret_cast<uv_handle_t*>(&restart_timer_), nullptr);
}

}  // namespace clusterd::supervisor
