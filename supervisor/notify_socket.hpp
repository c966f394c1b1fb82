// A NOTIFY_SOCKET of clusterd's own, one per exec worker: a unix datagram
// socket on which the program (or anything it starts) sends sd_notify
// messages, exactly as it would to systemd.
//
// SO_PASSCRED makes the kernel attach the sender's real pid to every
// datagram, so the owner can refuse one that does not come from its worker's
// process tree (supervisor/process_tree.hpp): another program that finds the
// path cannot speak for this worker. The socket is non-blocking and read on
// the supervisor's loop until empty; a datagram is at most 4096 bytes, as
// systemd reads them (a longer one is cut by the kernel and refused here).
//
// Ownership: heap-allocated by open(); close() unlinks the path and the object
// deletes itself once libuv has closed its poll handle. Loop thread only.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <functional>
#include <string>
#include <string_view>
#include <variant>

namespace clusterd::supervisor {

class NotifySocket {
public:
    // text: the datagram; sender: the pid the kernel vouches for (0 if none came).
    using Receiver = std::function<void(std::string_view text, pid_t sender)>;

    // Binds path (which must not exist; mode 0600); the error is a sentence.
    [[nodiscard]] static std::variant<NotifySocket*, std::string> open(uv_loop_t* loop, const std::string& path,
                                                                       Receiver receiver);
    // Unlinks the path and closes; the object is gone after the loop's next turn.
    void close();

    [[nodiscard]] const std::string& path() const { return path_; }

    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

private:
    NotifySocket(std::string path, int fd, Receiver receiver);
    ~NotifySocket();
    static void on_readable(uv_poll_t* poll, int status, int events);
    void read_all();

    std::string path_;
    int fd_;
    Receiver receiver_;
    uv_poll_t poll_{};
};

}  // namespace clusterd::supervisor
