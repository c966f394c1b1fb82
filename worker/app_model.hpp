// What an App declared, as the worker reads it: the route table and each
// route's handler (same index), the task table (a task's index is what
// crosses the job ring), the hooks and the counter names. Built on the main
// thread before run(), read-only afterwards, so every thread reads it freely.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/app.hpp"
#include "worker/route_table.hpp"

namespace clusterd::detail {

struct RouteSpec {
    Handler handler;      // one of the two is set
    AsyncHandler async;
    std::optional<std::uint64_t> max_body;  // RouteOptions::max_body
};

struct TaskSpec {
    std::string name;
    TaskFunction function;
    TaskOptions options;
};

struct AppModel {
    std::string name;
    worker::RouteTable routes;
    std::vector<RouteSpec> handlers;  // by route index
    std::vector<TaskSpec> tasks;      // by task index
    std::vector<StartHook> worker_hooks;
    std::vector<StartHook> compute_hooks;
    std::vector<std::string> counters;  // by counter index

    [[nodiscard]] std::optional<std::uint32_t> task_index(std::string_view task) const {
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            if (tasks[i].name == task) return static_cast<std::uint32_t>(i);
        }
        return std::nullopt;
    }
};

}  // namespace clusterd::detail
