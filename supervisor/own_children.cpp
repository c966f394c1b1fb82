#include "supervisor/own_children.hpp"

#include <unordered_set>

namespace clusterd::supervisor {

namespace {

std::unordered_set<pid_t>& children() {
    static std::unordered_set<pid_t> pids;
    return pids;
}

}  // namespace

void own_child(pid_t pid) { children().insert(pid); }
void disown_child(pid_t pid) { children().erase(pid); }
bool is_own_child(pid_t pid) { return children().count(pid) != 0; }

}  // namespace clusterd::supervisor
