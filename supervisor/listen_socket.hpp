// Binds the one listening socket every worker inherits. One accept queue for
// all workers means a worker that dies loses only the connections it had
// accepted; those still queued are served by the others.
#pragma once

#include <string>
#include <variant>

#include "common/config.hpp"
#include "common/unique_fd.hpp"

namespace clusterd::supervisor {

// Sockets one cluster serves at most (socket activation may pass several).
inline constexpr std::size_t max_listen_sockets = 16;

struct ListenSocket {
    UniqueFd fd;
    std::string address;  // as bound, with the real port: "127.0.0.1:40123"
};

// Resolves host (numeric or a name), binds with SO_REUSEADDR and listens.
// The fd is close-on-exec: workers get it through an explicit inherit list.
// On failure returns the operator's sentence, e.g.
// "bind() failed on 127.0.0.1:8080: Address already in use".
[[nodiscard]] std::variant<ListenSocket, std::string> bind_listen_socket(const ListenAddress& address);

}  // namespace clusterd::supervisor
