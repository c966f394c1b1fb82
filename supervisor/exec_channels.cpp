#include "supervisor/exec_channels.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "supervisor/notify_socket.hpp"
#include "supervisor/process_tree.hpp"

namespace clusterd::supervisor {

namespace {

// systemd reads at most this much of one notify message; a longer line on
// the stream is cut there and ignored rather than parsed in part.
constexpr std::size_t max_notify_line = 4096;

}  // namespace

ExecChannels::ExecChannels(uv_loop_t* loop, ExecListener& listener, std::string notify_socket_path,
                           std::size_t max_line)
    : loop_(loop),
      listener_(listener),
      notify_socket_path_(std::move(notify_socket_path)),
      notify_lines_(max_notify_line, [this](std::string_view line, bool cut) {
          if (!cut) deliver(line);
      }) {
    for (Pipe* pipe : {&out_, &err_}) {
        uv_pipe_init(loop_, &pipe->handle, 0);
        pipe->handle.data = pipe;
        pipe->owner = this;
        ++open_handles_;
    }
    err_.stream = OutputStream::stderr_stream;
    out_.lines.emplace(max_line, [this](std::string_view line, bool cut) {
        listener_.on_exec_output(OutputStream::stdout_stream, line, cut);
    });
    err_.lines.emplace(max_line, [this](std::string_view line, bool cut) {
        listener_.on_exec_output(OutputStream::stderr_stream, line, cut);
    });
}

ExecChannels::~ExecChannels() = default;

void ExecChannels::prepare_stdio(uv_stdio_container_t& out, uv_stdio_container_t& err) {
    // The child writes; libuv's flags are from the child's point of view.
    out.flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    out.data.stream = reinterpret_cast<uv_stream_t*>(&out_.handle);
    err.flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    err.data.stream = reinterpret_cast<uv_stream_t*>(&err_.handle);
}

std::optional<std::string> ExecChannels::start(pid_t pid) {
    pid_ = pid;
    for (Pipe* pipe : {&out_, &err_}) uv_read_start(reinterpret_cast<uv_stream_t*>(&pipe->handle), on_alloc, on_read);
    if (notify_socket_path_.empty()) return std::nullopt;
    auto opened = NotifySocket::open(loop_, notify_socket_path_,
                                     [this](std::string_view text, pid_t sender) { on_datagram(text, sender); });
    if (auto* error = std::get_if<std::string>(&opened)) return *error;
    notify_socket_ = std::get<NotifySocket*>(opened);
    return std::nullopt;
}

void ExecChannels::feed_notify_stream(std::string_view bytes) { notify_lines_.feed(bytes); }

void ExecChannels::on_datagram(std::string_view text, pid_t sender) {
    if (!is_same_or_descendant(sender, pid_)) {
        ++refused_;
        if (!refusal_logged_) {
            spdlog::warn("notify socket {}: a message from pid {}, which is not the worker (pid {}) or one of its "
                         "descendants, is refused (further refusals are counted, not logged)",
                         notify_socket_path_, sender, pid_);
            refusal_logged_ = true;
        }
        return;
    }
    deliver(text);
}

void ExecChannels::deliver(std::string_view text) {
    const NotifyMessage message = parse_notify_text(text);
    listener_.on_exec_notify(message);
}

void ExecChannels::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
    auto* owner = static_cast<Pipe*>(handle->data)->owner;
    *buf = uv_buf_init(owner->buffer_, sizeof owner->buffer_);
}

void ExecChannels::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* pipe = static_cast<Pipe*>(stream->data);
    if (nread < 0) {  // EOF: the program closed it or exited; its last unfinished line still counts
        uv_read_stop(stream);
        pipe->lines->finish();
        return;
    }
    pipe->lines->feed(std::string_view(buf->base, static_cast<std::size_t>(nread)));
}

void ExecChannels::close(std::function<void()> done) {
    closed_ = std::move(done);
    if (notify_socket_ != nullptr) {
        notify_socket_->close();
        notify_socket_ = nullptr;
    }
    // What is still in the pipes is the program's last words: read it now,
    // before the exit is reported (the descriptors are non-blocking), then close.
    for (Pipe* pipe : {&out_, &err_}) {
        uv_os_fd_t fd = -1;
        if (uv_fileno(reinterpret_cast<uv_handle_t*>(&pipe->handle), &fd) == 0) {
            // Bounded: a descendant that still holds the pipe could write forever.
            ssize_t got = 0;
            for (int reads = 0; reads < 64 && (got = ::read(fd, buffer_, sizeof buffer_)) > 0; ++reads) {
                pipe->lines->feed(std::string_view(buffer_, static_cast<std::size_t>(got)));
            }
        }
        pipe->lines->finish();
        uv_close(reinterpret_cast<uv_handle_t*>(&pipe->handle), on_closed);
    }
}

void ExecChannels::on_closed(uv_handle_t* handle) {
    auto* owner = static_cast<Pipe*>(handle->data)->owner;
    if (--owner->open_handles_ == 0 && owner->closed_) owner->closed_();
}

}  // namespace clusterd::supervisor
