// Socket activation without libsystemd: the listening sockets systemd (or
// systemd-socket-activate) opened for us, as sd_listen_fds() finds them.
// $LISTEN_PID names the process they are meant for, $LISTEN_FDS how many
// there are, starting at fd 3 (SD_LISTEN_FDS_START), and $LISTEN_FDNAMES
// their names, colon-separated (FileDescriptorName= in the .socket unit).
//
// How the supervisor is meant to call it: once, at start, before anything
// else opens a descriptor (fds 3.. must still be the ones systemd passed)
// and before any worker is spawned:
//
//   auto inherited = take_inherited_sockets();
//   if (auto* error = std::get_if<std::string>(&inherited)) {
//       spdlog::critical("{}", *error);
//       return exit_code::config_error;              // 2: a restart cannot fix the unit
//   }
//   auto& sockets = std::get<std::vector<InheritedSocket>>(inherited);
//   if (sockets.empty()) bind --listen itself (bind_listen_socket);
//   else serve on these, ListenSocket{std::move(s.fd), s.address}, and ignore --listen.
//
// The three variables are removed from our environment either way, so
// workers (and a re-exec'd binary) never mistake fds 3.. for sockets of
// their own; a binary upgrade passes the sockets on with fresh variables.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "common/unique_fd.hpp"

namespace clusterd::supervisor {

// The name (FileDescriptorName= in a .socket unit; a binary upgrade uses it
// too) of the socket the admin worker serves (--admin-listen), not the workers.
inline constexpr const char* admin_socket_name = "admin";

struct InheritedSocket {
    UniqueFd fd;           // listening, close-on-exec, non-blocking
    std::string name;      // from LISTEN_FDNAMES, "unknown" without it (as libsystemd says)
    int family = 0;        // AF_INET, AF_INET6 or AF_UNIX
    std::string address;   // "127.0.0.1:8080", "[::1]:80", "unix:/run/clusterd.sock", "unix:@name"
};

// The sockets passed to this process, each checked: a socket, a stream one,
// listening (ListenStream= with Accept=no), of a family we serve. An empty
// vector when nothing was passed, or passed to another pid. An error sentence
// when the environment or a descriptor is not what systemd's protocol
// promises, e.g. "LISTEN_FDS='x' is not a number of file descriptors" or
// "fd 3 ('http') passed by socket activation is not a socket".
[[nodiscard]] std::variant<std::vector<InheritedSocket>, std::string> take_inherited_sockets();

}  // namespace clusterd::supervisor
