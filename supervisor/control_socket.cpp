#include "supervisor/control_socket.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace clusterd::supervisor {
namespace {

// Longer command lines are no command of ours.
constexpr std::size_t max_command = 256;

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::optional<sockaddr_un> address_of(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) return std::nullopt;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    return address;
}

// Someone listens there (a live instance), as opposed to a leftover file.
bool answers(const sockaddr_un& address) {
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    return probe && ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

}  // namespace

std::string control_socket_path(const Config& config) {
    if (!config.control_socket.empty()) return config.control_socket;
    const std::string file = "/" + config.name + ".sock";
    if (const char* runtime = std::getenv("RUNTIME_DIRECTORY"); runtime != nullptr && *runtime != '\0') {
        // systemd may list several, separated by ':'; the first is ours.
        return std::string(runtime).substr(0, std::string(runtime).find(':')) + file;
    }
    if (::geteuid() == 0) return "/run/clusterd" + file;
    if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
        return std::string(xdg) + "/clusterd" + file;
    }
    return "/tmp/clusterd-" + std::to_string(::geteuid()) + file;
}

std::variant<BoundControlSocket, std::string> bind_control_socket(const std::string& path, bool taking_over) {
    const auto address = address_of(path);
    if (!address) return "the control socket path " + path + " is too long for a unix socket";
    const std::string directory = directory_of(path);
    if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
        return "mkdir(" + directory + ") failed for the control socket: " + std::strerror(errno);
    }
    if (!taking_over && answers(*address)) {
        return "another instance answers on the control socket " + path +
               " (run this one with another --name, or stop that one first)";
    }
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return std::string("socket(AF_UNIX) failed for the control socket: ") + std::strerror(errno);
    // Bound beside the path, then renamed over it: the path never names a
    // socket nobody listens on, and a new supervisor replaces the old one's.
    const std::string beside = path + "." + std::to_string(::getpid());
    const auto beside_address = address_of(beside);
    if (!beside_address) return "the control socket path " + beside + " is too long for a unix socket";
    ::unlink(beside.c_str());
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*beside_address), sizeof *beside_address) != 0) {
        return "bind(" + beside + ") failed for the control socket: " + std::strerror(errno);
    }
    // Only the owner may connect at all; SO_PEERCRED is checked as well.
    if (::chmod(beside.c_str(), 0600) != 0 || ::listen(fd.get(), 16) != 0 ||
        ::rename(beside.c_str(), path.c_str()) != 0) {
        const std::string error = std::strerror(errno);
        ::unlink(beside.c_str());
        return "cannot set up the control socket " + path + ": " + error;
    }
    struct stat info{};
    if (::stat(path.c_str(), &info) != 0) return "stat(" + path + ") failed: " + std::strerror(errno);
    return BoundControlSocket{std::move(fd), path, info.st_ino};
}

void remove_control_socket(const BoundControlSocket& socket) {
    struct stat info{};
    if (socket.path.empty() || ::stat(socket.path.c_str(), &info) != 0 || info.st_ino != socket.inode) return;
    ::unlink(socket.path.c_str());
}

struct ControlSocket::Client {
    uv_pipe_t pipe{};
    ControlSocket* owner = nullptr;
    RequestId id = 0;
    std::string line;
    bool dispatched = false;
    bool closing = false;
};

ControlSocket::ControlSocket(uv_loop_t* loop, BoundControlSocket socket, Handler handler)
    : loop_(loop), socket_(std::move(socket)), handler_(std::move(handler)) {
    uv_pipe_init(loop_, &server_, 0);
    server_.data = this;
    if (int rc = uv_pipe_open(&server_, socket_.fd.get()); rc != 0) {
        spdlog::error("uv_pipe_open() failed on the control socket {}: {}", socket_.path, uv_strerror(rc));
        return;
    }
    (void)socket_.fd.release();  // the pipe handle owns it now
    if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 16, on_connection); rc != 0) {
        spdlog::error("listen() failed on the control socket {}: {}", socket_.path, uv_strerror(rc));
    }
}

ControlSocket::~ControlSocket() {
    if (!closed_) spdlog::error("BUG: the control socket was not closed before its loop ended");
}

void ControlSocket::on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<ControlSocket*>(server->data);
    if (status != 0 || self->closed_) return;
    auto* client = new Client{};
    client->owner = self;
    client->id = self->next_id_++;
    uv_pipe_init(self->loop_, &client->pipe, 0);
    client->pipe.data = client;
    self->clients_[client->id] = client;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&client->pipe)) != 0) {
        self->close_client(client);
        return;
    }
    uv_os_fd_t fd = -1;
    ucred peer{};
    socklen_t size = sizeof peer;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&client->pipe), &fd) != 0 ||
        ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) {
        self->refuse(client, std::string("cannot tell who is asking (SO_PEERCRED): ") + std::strerror(errno));
        return;
    }
    if (peer.uid != 0 && peer.uid != ::geteuid()) {
        spdlog::warn("control socket: refused a command from uid {} (pid {}): only root and uid {} may", peer.uid,
                     peer.pid, ::geteuid());
        self->refuse(client, "permission denied: uid " + std::to_string(peer.uid) + " is neither root nor uid " +
                                 std::to_string(::geteuid()) + ", which runs this instance");
        return;
    }
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&client->pipe),
        [](uv_handle_t*, std::size_t suggested, uv_buf_t* buf) {
            *buf = uv_buf_init(new char[suggested], static_cast<unsigned>(suggested));
        },
        on_read);
}

void ControlSocket::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* client = static_cast<Client*>(stream->data);
    ControlSocket* self = client->owner;
    if (nread > 0 && !client->dispatched) client->line.append(buf->base, static_cast<std::size_t>(nread));
    delete[] buf->base;
    if (client->dispatched) {
        // The client hung up while waiting: its answer has nobody to go to.
        if (nread < 0) self->close_client(client);
        return;
    }
    const auto end = client->line.find('\n');
    if (end == std::string::npos) {
        if (nread < 0 || client->line.size() > max_command) self->refuse(client, "no command line received");
        return;
    }
    client->line.resize(end);
    client->dispatched = true;
    self->handler_(client->id, client->line);
}

void ControlSocket::refuse(Client* client, const std::string& why) {
    send(client, "error: " + why + "\n");
    close_client(client);
}

void ControlSocket::send(Client* client, std::string text) {
    if (client->closing) return;
    struct Write {
        uv_write_t request{};
        std::string text;
    };
    auto* write = new Write{};
    write->text = std::move(text);
    uv_buf_t buf = uv_buf_init(write->text.data(), static_cast<unsigned>(write->text.size()));
    if (uv_write(&write->request, reinterpret_cast<uv_stream_t*>(&client->pipe), &buf, 1,
                 [](uv_write_t* request, int) { delete reinterpret_cast<Write*>(request); }) != 0) {
        delete write;
    }
}

void ControlSocket::write(RequestId id, const std::string& text) {
    if (auto it = clients_.find(id); it != clients_.end()) send(it->second, text);
}

void ControlSocket::finish(RequestId id, bool ok, const std::string& sentence) {
    auto it = clients_.find(id);
    if (it == clients_.end()) return;  // it hung up
    send(it->second, std::string(ok ? "ok: " : "error: ") + sentence + "\n");
    close_client(it->second);
}

// uv_close would cancel the answer still queued; uv_shutdown sends it
// first, and the close follows in its callback.
void ControlSocket::close_client(Client* client) {
    if (client->closing) return;
    client->closing = true;
    clients_.erase(client->id);
    auto* shutdown = new uv_shutdown_t{};
    shutdown->data = client;
    const auto close = [](uv_handle_t* handle) { delete static_cast<Client*>(handle->data); };
    if (uv_shutdown(shutdown, reinterpret_cast<uv_stream_t*>(&client->pipe), [](uv_shutdown_t* request, int) {
            auto* done = static_cast<Client*>(request->data);
            delete request;
            uv_close(reinterpret_cast<uv_handle_t*>(&done->pipe),
                     [](uv_handle_t* handle) { delete static_cast<Client*>(handle->data); });
        }) != 0) {
        delete shutdown;
        uv_close(reinterpret_cast<uv_handle_t*>(&client->pipe), close);
    }
}

void ControlSocket::close() {
    if (closed_) return;
    closed_ = true;
    remove_control_socket(socket_);
    while (!clients_.empty()) close_client(clients_.begin()->second);
    uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
}

}  // namespace clusterd::supervisor
