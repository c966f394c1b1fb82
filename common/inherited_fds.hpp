// Where a worker finds the job ring's result eventfds it inherits
// (--compute=processes). Index 0 is always fd 7, as before; further ones (a
// compute process gets one per HTTP slot, a --model=threads worker one per
// event loop) follow the extra listening sockets, which start at fd 8:
//   HTTP worker, K listening sockets: fd 7, then 8 + (K - 1), 9 + (K - 1), ...
//   compute process (no listening socket): fd 7, 8, 9, ...
// The supervisor (supervisor/worker_process.cpp) and the worker both use this.
#pragma once

namespace clusterd {

inline constexpr int first_result_fd = 7;

[[nodiscard]] constexpr int result_fd_for(unsigned index, unsigned listen_count) {
    const unsigned extra_listeners = listen_count > 1 ? listen_count - 1 : 0;
    return index == 0 ? first_result_fd : first_result_fd + static_cast<int>(extra_listeners + index);
}

static_assert(result_fd_for(0, 3) == 7);
static_assert(result_fd_for(1, 1) == 8);
static_assert(result_fd_for(1, 0) == 8);
static_assert(result_fd_for(2, 3) == 11);  // fds 8 and 9 are the two extra listening sockets

}  // namespace clusterd
