// The control socket: one unix stream socket per instance, created by the
// supervisor (mode 0600), on which `clusterd reload|upgrade|stop|status|
// scale N` ask the running instance and wait for the real outcome. Nothing
// ever signals a pid read from shared memory.
//
// Where: --control-socket, else NAME.sock (--name, default "clusterd") in
// $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=), else /run/clusterd as
// root, else $XDG_RUNTIME_DIR/clusterd, else /tmp/clusterd-UID; the
// supervisor and the commands compute it the same way from the same options.
//
// Who: a peer is checked with SO_PEERCRED and served only if it is root or
// the instance's own uid; anyone else gets "error: ..." and is closed.
//
// Protocol, one command per connection: the client sends one line
//   reload [no-wait] | upgrade [no-wait] | stop [no-wait] | status [json] | scale N
// and the supervisor answers with any number of text lines and, last, one
//   ok: <sentence>   or   error: <sentence>
// then closes. A waiting command is answered when its outcome is known.
//
// A new supervisor started by a binary upgrade binds beside the old one and
// renames its socket over the path, so the name always reaches the newest;
// each removes the path at exit only if it is still its own.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <functional>
#include <map>
#include <string>
#include <variant>

#include "common/config.hpp"
#include "common/unique_fd.hpp"

namespace clusterd::supervisor {

[[nodiscard]] std::string control_socket_path(const Config& config);

struct BoundControlSocket {
    UniqueFd fd;
    std::string path;
    ino_t inode = 0;  // of the path once bound: ours, as long as it is this
};

// Binds and listens at `path` (creating the default directories, 0700).
// Refuses when a live instance answers there, unless `taking_over` (we are
// a binary upgrade's new supervisor).
[[nodiscard]] std::variant<BoundControlSocket, std::string> bind_control_socket(const std::string& path,
                                                                                bool taking_over);

// Removes the path if it is still the socket we bound.
void remove_control_socket(const BoundControlSocket& socket);

// The supervisor's side, on its loop: accepts, checks the peer, reads the
// command line, and hands it on; answers go back by request id.
class ControlSocket {
public:
    using RequestId = unsigned long;
    // The command line as sent ("reload no-wait"); answer later with reply/finish.
    using Handler = std::function<void(RequestId, const std::string& command)>;

    ControlSocket(uv_loop_t* loop, BoundControlSocket socket, Handler handler);
    ControlSocket(const ControlSocket&) = delete;
    ControlSocket& operator=(const ControlSocket&) = delete;
    ~ControlSocket();

    // Text lines before the outcome (the status table).
    void write(RequestId id, const std::string& text);
    // The last line ("ok: ..." or "error: ..."), then the connection is closed.
    void finish(RequestId id, bool ok, const std::string& sentence);
    // Stops listening, closes every connection, removes the path; the loop
    // then runs the close callbacks.
    void close();

private:
    struct Client;
    static void on_connection(uv_stream_t* server, int status);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    void refuse(Client* client, const std::string& why);
    void send(Client* client, std::string text);
    void close_client(Client* client);

    uv_loop_t* loop_;
    BoundControlSocket socket_;
    Handler handler_;
    uv_pipe_t server_{};
    bool closed_ = false;
    RequestId next_id_ = 1;
    std::map<RequestId, Client*> clients_;
};

}  // namespace clusterd::supervisor
