#include "supervisor/upgrade.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "supervisor/exit_info.hpp"
#include "supervisor/own_children.hpp"
#include "supervisor/socket_activation.hpp"

extern char** environ;

namespace clusterd::supervisor {
namespace {

constexpr char ready_byte = 'R';

// The sockets the new supervisor gets from fd 3 on: the served ones, then the admin socket.
std::vector<int> passed_fds(const UpgradeRequest& request) {
    std::vector<int> fds = request.listen_fds;
    if (request.admin_fd >= 0) fds.push_back(request.admin_fd);
    return fds;
}

// Our environment without what the new process must get fresh, plus the
// socket-activation and upgrade variables.
std::vector<std::string> child_environment(const UpgradeRequest& request) {
    std::vector<std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        if (text.starts_with("LISTEN_") || text.starts_with("NOTIFY_SOCKET=") || text.starts_with("WATCHDOG_PID=") ||
            text.starts_with(std::string(upgrade_ready_env) + "=")) {
            continue;
        }
        env.emplace_back(text);
    }
    const std::size_t count = passed_fds(request).size();
    std::string names;
    for (std::size_t i = 0; i < request.listen_fds.size(); ++i) names += i == 0 ? "http" : ":http";
    if (request.admin_fd >= 0) names += std::string(names.empty() ? "" : ":") + admin_socket_name;
    env.emplace_back("LISTEN_FDS=" + std::to_string(count));
    env.emplace_back("LISTEN_FDNAMES=" + names);
    env.emplace_back(std::string(upgrade_ready_env) + "=" + std::to_string(3 + count));
    if (!request.notify_socket.empty()) env.emplace_back("NOTIFY_SOCKET=" + request.notify_socket);
    return env;
}

}  // namespace

std::variant<UpgradeProcess*, int> UpgradeProcess::spawn(uv_loop_t* loop, const UpgradeRequest& request,
                                                         Events events) {
    auto* upgrade = new UpgradeProcess(std::move(events));
    uv_pipe_init(loop, &upgrade->ready_, 0);
    upgrade->ready_.data = upgrade;
    upgrade->process_.data = upgrade;

    // sh sets LISTEN_PID to its own pid, which the exec'd binary keeps.
    std::vector<std::string> words{"/bin/sh", "-c", "LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"",
                                   request.executable};
    words.insert(words.end(), request.args.begin(), request.args.end());
    std::vector<char*> argv;
    for (auto& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_words = child_environment(request);
    std::vector<char*> env;
    for (auto& word : env_words) env.push_back(word.data());
    env.push_back(nullptr);

    const std::vector<int> passed = passed_fds(request);
    const std::size_t ready_fd = 3 + passed.size();
    std::vector<uv_stdio_container_t> stdio(ready_fd + 1);
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 1;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    for (std::size_t i = 0; i < passed.size(); ++i) {
        stdio[3 + i].flags = UV_INHERIT_FD;
        stdio[3 + i].data.fd = passed[i];
    }
    stdio[ready_fd].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[ready_fd].data.stream = reinterpret_cast<uv_stream_t*>(&upgrade->ready_);

    uv_process_options_t options{};
    options.exit_cb = on_process_exit;
    options.file = argv[0];
    options.args = argv.data();
    options.env = env.data();
    options.stdio = stdio.data();
    options.stdio_count = static_cast<int>(stdio.size());
    const int rc = uv_spawn(loop, &upgrade->process_, &options);
    upgrade->open_handles_ = 2;
    if (rc != 0) {
        upgrade->events_ = {};
        upgrade->close_handles();
        return rc;
    }
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&upgrade->ready_),
        [](uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
            auto* self = static_cast<UpgradeProcess*>(handle->data);
            *buf = uv_buf_init(self->buffer_, sizeof self->buffer_);
        },
        on_read);
    own_child(upgrade->process_.pid);
    return upgrade;
}

void UpgradeProcess::kill(int signal) {
    if (closing_) return;
    if (int rc = uv_process_kill(&process_, signal); rc != 0 && rc != UV_ESRCH) {
        spdlog::error("kill() failed while sending {} to the new supervisor (pid {}): {}", sigabbrev_np(signal),
                      process_.pid, uv_strerror(rc));
    }
}

void UpgradeProcess::release() {
    disown_child(process_.pid);  // libuv stops watching it: a zombie of it is the orphan reaper's
    events_ = {};
    close_handles();
}

void UpgradeProcess::on_process_exit(uv_process_t* process, std::int64_t exit_status, int term_signal) {
    auto* self = static_cast<UpgradeProcess*>(process->data);
    disown_child(process->pid);
    auto on_exit = std::move(self->events_.on_exit);
    self->events_ = {};
    self->close_handles();
    if (on_exit) on_exit(describe(ExitInfo::from_uv(exit_status, term_signal)));
}

void UpgradeProcess::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<UpgradeProcess*>(stream->data);
    if (nread < 0) {  // closed without a word: the exit callback tells the rest
        uv_read_stop(stream);
        return;
    }
    for (ssize_t i = 0; i < nread; ++i) {
        if (buf->base[i] == ready_byte && self->events_.on_ready) {
            auto on_ready = std::move(self->events_.on_ready);
            self->events_.on_ready = nullptr;
            on_ready();
            return;  // on_ready may have released us
        }
    }
}

void UpgradeProcess::close_handles() {
    if (closing_) return;
    closing_ = true;
    auto closed = [](uv_handle_t* handle) {
        auto* self = static_cast<UpgradeProcess*>(handle->data);
        if (--self->open_handles_ == 0) delete self;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&process_), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&ready_), closed);
}

UniqueFd take_upgrade_ready_fd() {
    const char* value = std::getenv(upgrade_ready_env);
    if (value == nullptr) return UniqueFd{};
    int fd = -1;
    const std::string_view text(value);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), fd);
    ::unsetenv(upgrade_ready_env);
    if (ec != std::errc{} || end != text.data() + text.size() || fd < 3 || ::fcntl(fd, F_GETFD) < 0) {
        spdlog::warn("{}='{}' names no open descriptor; the old supervisor will not hear we are ready",
                     upgrade_ready_env, text);
        return UniqueFd{};
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // not for our workers
    return UniqueFd(fd);
}

void report_upgrade_ready(UniqueFd& fd) {
    if (!fd) return;
    ssize_t written;
    do {
        written = ::write(fd.get(), &ready_byte, 1);
    } while (written < 0 && errno == EINTR);
    if (written != 1) {
        spdlog::error("write() failed while telling the old supervisor we are ready: {}", std::strerror(errno));
    }
    fd.reset();
}

}  // namespace clusterd::supervisor
