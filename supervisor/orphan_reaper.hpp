// While the fork server runs, the supervisor is a child subreaper
// (PR_SET_CHILD_SUBREAPER): that is how the workers the fork server forks
// become its children. It also makes it the new parent of any process a
// worker leaves behind (a handler's `system("cmd &")`, a grandchild whose
// parent died), which nobody else waits for: without this they would stay
// zombies until the supervisor exits. On every SIGCHLD it reaps the zombie
// children that are not its own (own_children.hpp).
#pragma once

#include <uv.h>

namespace clusterd::supervisor {

class OrphanReaper {
public:
    // Makes the process a child subreaper and starts watching SIGCHLD.
    explicit OrphanReaper(uv_loop_t* loop);
    OrphanReaper(const OrphanReaper&) = delete;
    OrphanReaper& operator=(const OrphanReaper&) = delete;
    ~OrphanReaper() = default;

    // Closes the signal handle; call before the loop ends.
    void close();
    // How many orphans it reaped so far.
    [[nodiscard]] unsigned long long reaped() const { return reaped_; }

private:
    static void on_child(uv_signal_t* handle, int signal);
    void reap_orphans();

    uv_signal_t child_signal_{};
    unsigned long long reaped_ = 0;
    bool closed_ = false;
};

}  // namespace clusterd::supervisor
