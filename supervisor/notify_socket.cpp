#include "supervisor/notify_socket.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace clusterd::supervisor {

namespace {

constexpr std::size_t max_datagram = 4096;

}  // namespace

std::variant<NotifySocket*, std::string> NotifySocket::open(uv_loop_t* loop, const std::string& path,
                                                            Receiver receiver) {
    // "@name" is an abstract socket (sd_notify's convention): sun_path starts
    // with a NUL and the address length says where the name ends.
    const bool abstract = !path.empty() && path.front() == '@';
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) return "notify socket path '" + path + "' is too long for a unix socket";
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    if (abstract) address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(abstract ? offsetof(sockaddr_un, sun_path) + path.size() : sizeof address);
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return std::string("socket(AF_UNIX, SOCK_DGRAM) failed for a notify socket: ") + std::strerror(errno);
    const int on = 1;
    std::string error;
    if (::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
        error = std::string("setsockopt(SO_PASSCRED) failed: ") + std::strerror(errno);
    } else if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
        error = "bind() of notify socket " + path + " failed: " + std::strerror(errno);
    } else if (!abstract && ::chmod(path.c_str(), 0600) != 0) {
        error = "chmod() of notify socket " + path + " failed: " + std::strerror(errno);
        ::unlink(path.c_str());
    }
    if (!error.empty()) {
        ::close(fd);
        return error;
    }
    auto* socket = new NotifySocket(path, fd, std::move(receiver));
    uv_poll_init(loop, &socket->poll_, fd);
    socket->poll_.data = socket;
    uv_poll_start(&socket->poll_, UV_READABLE, on_readable);
    return socket;
}

NotifySocket::NotifySocket(std::string path, int fd, Receiver receiver)
    : path_(std::move(path)), fd_(fd), receiver_(std::move(receiver)) {}

NotifySocket::~NotifySocket() { ::close(fd_); }

void NotifySocket::close() {
    if (!path_.starts_with('@')) ::unlink(path_.c_str());  // an abstract name goes with the socket
    receiver_ = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), [](uv_handle_t* handle) {
        delete static_cast<NotifySocket*>(handle->data);
    });
}

void NotifySocket::on_readable(uv_poll_t* poll, int status, int) {
    if (status == 0) static_cast<NotifySocket*>(poll->data)->read_all();
}

void NotifySocket::read_all() {
    std::array<char, max_datagram + 1> buffer;  // one byte more: a longer datagram shows as MSG_TRUNC
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(ucred))> control;
    for (;;) {
        iovec io{buffer.data(), buffer.size()};
        msghdr message{};
        message.msg_iov = &io;
        message.msg_iovlen = 1;
        message.msg_control = control.data();
        message.msg_controllen = control.size();
        const ssize_t got = ::recvmsg(fd_, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                spdlog::warn("recvmsg() on notify socket {} failed: {}", path_, std::strerror(errno));
            }
            return;
        }
        pid_t sender = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                ucred credentials{};
                std::memcpy(&credentials, CMSG_DATA(c), sizeof credentials);
                sender = credentials.pid;
            } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                // Descriptors (FDSTORE=1) are not kept: close what arrived.
                const auto count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (std::size_t i = 0; i < count; ++i) {
                    int passed = -1;
                    std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
                    ::close(passed);
                }
            }
        }
        if (static_cast<std::size_t>(got) > max_datagram || (message.msg_flags & MSG_TRUNC) != 0) {
            spdlog::warn("notify socket {}: a datagram over {} bytes from pid {} is refused", path_, max_datagram, sender);
            continue;
        }
        if (receiver_) receiver_(std::string_view(buffer.data(), static_cast<std::size_t>(got)), sender);
    }
}

}  // namespace clusterd::supervisor
