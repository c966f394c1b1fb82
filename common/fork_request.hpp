// What the supervisor asks of the fork server (--fork-server,
// worker/fork_server.hpp), and what it answers: one SOCK_SEQPACKET message
// each way on the socket the fork server got at start.
//
// A request is "start a worker as if exec'd with these arguments and these
// descriptors": the argument words a uv_spawn would have passed (argv[0]
// included) and, as SCM_RIGHTS, the descriptors, each with the number it
// must have in the worker (the child contract, common/child_contract.hpp).
// Descriptors 0-2 are not passed: the worker keeps the fork server's, which
// are the supervisor's /dev/null, stdout and stderr.
//
// The answer is the new worker's pid, or the errno that stopped it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace clusterd::fork_request {

// The most descriptors one request carries (a worker of 16 listening
// sockets and 16 result eventfds stays well under it).
inline constexpr std::size_t max_fds = 64;
// The largest request: the accepted configuration is most of it.
inline constexpr std::size_t max_bytes = 256 * 1024;

struct Request {
    std::vector<std::string> words;  // argv, argv[0] first
    std::vector<int> targets;        // the fd number each passed descriptor gets, in SCM_RIGHTS order
};

// The bytes of a request (the descriptors go beside them, as SCM_RIGHTS).
[[nodiscard]] std::string encode(const Request& request);
// The request in `bytes` with `fd_count` descriptors attached, or nothing
// when it is not one encode() wrote: a wrong count, a target below 3 or
// twice, no words, a word with a NUL inside.
[[nodiscard]] std::optional<Request> decode(const std::string& bytes, std::size_t fd_count);

struct Answer {
    std::int32_t pid = 0;    // > 0: started
    std::int32_t error = 0;  // an errno when pid is 0
};

}  // namespace clusterd::fork_request
