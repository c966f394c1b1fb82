#include "supervisor/instance_lookup.hpp"

#include "common/shm_segment.hpp"

namespace clusterd::supervisor {

std::variant<pid_t, std::string> find_running_instance(pid_t requested) {
    if (requested != 0) return requested;
    auto live = live_segments();
    if (live.empty()) return std::string("no running clusterd found in /dev/shm");
    if (live.size() > 1) {
        std::string text = "several instances run; choose one with --pid:";
        for (const auto& each : live) text += " " + each;
        return text;
    }
    auto attached = ShmSegment::attach(live.front(), ShmSegment::Access::read_only);
    if (auto* error = std::get_if<std::string>(&attached)) return *error;
    return static_cast<pid_t>(std::get<ShmSegment>(attached).header().supervisor_pid);
}

}  // namespace clusterd::supervisor
