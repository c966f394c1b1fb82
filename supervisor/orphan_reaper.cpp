#include "supervisor/orphan_reaper.hpp"

#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "supervisor/own_children.hpp"

namespace clusterd::supervisor {

namespace {

// Whether /proc/<pid>/stat says the process is a zombie.
bool is_zombie(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    std::getline(stat, text);
    const auto close = text.rfind(')');
    return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

}  // namespace

OrphanReaper::OrphanReaper(uv_loop_t* loop) {
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        spdlog::error("prctl(PR_SET_CHILD_SUBREAPER) failed: {}; workers the fork server starts will not be "
                      "the supervisor's children",
                      std::strerror(errno));
    }
    uv_signal_init(loop, &child_signal_);
    child_signal_.data = this;
    uv_signal_start(&child_signal_, on_child, SIGCHLD);
    uv_unref(reinterpret_cast<uv_handle_t*>(&child_signal_));  // no reason on its own to keep the loop alive
}

void OrphanReaper::close() {
    if (closed_) return;
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&child_signal_), nullptr);
}

void OrphanReaper::on_child(uv_signal_t* handle, int) { static_cast<OrphanReaper*>(handle->data)->reap_orphans(); }

// /proc/self/task/<tid>/children lists each thread's children; an orphan
// handed to a subreaper goes to one of its threads.
void OrphanReaper::reap_orphans() {
    std::error_code error;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", error)) {
        std::ifstream list(task.path() / "children");
        long pid = 0;
        while (list >> pid) {
            const auto child = static_cast<pid_t>(pid);
            if (is_own_child(child) || !is_zombie(child)) continue;
            int status = 0;
            if (::waitpid(child, &status, WNOHANG) == child) {
                ++reaped_;
                spdlog::debug("reaped orphan {} left behind by a worker", child);
            }
        }
    }
}

}  // namespace clusterd::supervisor
