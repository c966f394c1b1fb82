#include "supervisor/status_command.hpp"

#include <cstdio>

#include "common/monotonic.hpp"
#include "common/shm_segment.hpp"
#include "common/status_report.hpp"

namespace clusterd::supervisor {

int run_status_command(const Config& config) {
    std::string name;
    if (config.status_pid != 0) {
        name = segment_name_for(config.status_pid);
    } else {
        auto live = live_segments();
        if (live.empty()) {
            std::fputs("clusterd status: no running clusterd found in /dev/shm\n", stderr);
            return 1;
        }
        if (live.size() > 1) {
            std::fputs("clusterd status: several instances run; choose one with --pid:", stderr);
            for (const auto& each : live) std::fprintf(stderr, " %s", each.c_str());
            std::fputs("\n", stderr);
            return 1;
        }
        name = live.front();
    }
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
