// What the supervisor hears from a program it runs in exec mode
// (`clusterd -- COMMAND`), for one worker process:
//   - its stdout and stderr: pipes read as they fill (never blocking the
//     loop, never waiting for a newline), split into bounded lines
//     (output_lines.hpp) for the supervisor's log;
//   - its sd_notify messages, from two channels that mean the same:
//     lines on the notify stream (the child contract's ready pipe, fd 3+K in
//     the program as CLUSTERD_NOTIFY_FD) and datagrams on its own
//     NOTIFY_SOCKET (notify_socket.hpp), the latter believed only from the
//     program's own process tree (process_tree.hpp).
//
// Ownership: owned by its WorkerProcess; close(done) closes every handle and
// calls done once libuv has let go of them all. Loop thread only.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "supervisor/notify_message.hpp"
#include "supervisor/output_lines.hpp"

namespace clusterd::supervisor {

class NotifySocket;

enum class OutputStream { stdout_stream, stderr_stream };

class ExecListener {
public:
    virtual void on_exec_notify(const NotifyMessage& message) = 0;
    virtual void on_exec_output(OutputStream stream, std::string_view line, bool cut) = 0;

protected:
    ~ExecListener() = default;
};

class ExecChannels {
public:
    // max_line: the longest output line kept whole (--max-log-line).
    ExecChannels(uv_loop_t* loop, ExecListener& listener, std::string notify_socket_path, std::size_t max_line);
    ExecChannels(const ExecChannels&) = delete;
    ExecChannels& operator=(const ExecChannels&) = delete;
    ~ExecChannels();

    // Before uv_spawn: the child's fds 1 and 2 become pipes to us.
    void prepare_stdio(uv_stdio_container_t& out, uv_stdio_container_t& err);
    // After a successful uv_spawn: start reading, open the notify socket.
    // Returns the error sentence when the socket cannot be opened (the
    // program still runs and can use its notify stream).
    [[nodiscard]] std::optional<std::string> start(pid_t pid);
    // Bytes the program wrote to its notify stream.
    void feed_notify_stream(std::string_view bytes);
    // Closes every handle; done() runs when the last one is closed.
    void close(std::function<void()> done);

    // Datagrams from outside the program's process tree, refused.
    [[nodiscard]] std::uint64_t refused_datagrams() const { return refused_; }

private:
    struct Pipe {
        uv_pipe_t handle{};
        ExecChannels* owner = nullptr;
        OutputStream stream = OutputStream::stdout_stream;
        std::optional<OutputLines> lines;
    };

    static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_closed(uv_handle_t* handle);
    void on_datagram(std::string_view text, pid_t sender);
    void deliver(std::string_view text);

    uv_loop_t* loop_;
    ExecListener& listener_;
    std::string notify_socket_path_;
    pid_t pid_ = 0;
    Pipe out_;
    Pipe err_;
    OutputLines notify_lines_;
    NotifySocket* notify_socket_ = nullptr;
    std::uint64_t refused_ = 0;
    bool refusal_logged_ = false;
    int open_handles_ = 0;
    std::function<void()> closed_;
    char buffer_[16 * 1024];
};

}  // namespace clusterd::supervisor
