#include "supervisor/status_command.hpp"

#include <cstdio>

#include "common/monotonic.hpp"
#include "common/shm_segment.hpp"
#include "common/status_report.hpp"
#include "supervisor/instance_lookup.hpp"

namespace clusterd::supervisor {

int run_status_command(const Config& config) {
    auto found = find_running_instance(config.status_pid);
    if (auto* error = std::get_if<std::string>(&found)) {
        std::fprintf(stderr, "clusterd status: %s\n", error->c_str());
        return 1;
    }
    const std::string name = segment_name_for(std::get<pid_t>(found));
    auto attached = ShmSegment::attach(name, ShmSegment::Access::read_only);
    if (auto* error = std::get_if<std::string>(&attached)) {
        std::fprintf(stderr, "clusterd status: %s\n", error->c_str());
        return 1;
    }
    const ClusterSnapshot snapshot = take_snapshot(std::get<ShmSegment>(attached), monotonic_ms());
    const std::string text = config.status_json ? status_json(snapshot) : status_table(snapshot);
    std::fputs(text.c_str(), stdout);
    return 0;
}

}  // namespace clusterd::supervisor
