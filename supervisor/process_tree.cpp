#include "supervisor/process_tree.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace clusterd::supervisor {

std::optional<pid_t> parent_of(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!stat || !std::getline(stat, text)) return std::nullopt;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
    // the fields start after its last ')'.
    const auto close = text.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(text.substr(close + 1));
    char state = 0;
    long parent = 0;
    if (!(fields >> state >> parent)) return std::nullopt;
    return static_cast<pid_t>(parent);
}

bool is_same_or_descendant(pid_t pid, pid_t ancestor) {
    if (pid <= 0 || ancestor <= 0) return false;
    for (int step = 0; step < 64; ++step) {
        if (pid == ancestor) return true;
        if (pid <= 1) return false;
        const auto parent = parent_of(pid);
        if (!parent) return false;
        pid = *parent;
    }
    return false;
}

}  // namespace clusterd::supervisor
