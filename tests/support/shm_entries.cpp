#include "tests/support/shm_entries.hpp"

#include <dirent.h>
#include <unistd.h>

#include <memory>

namespace clusterd::test {

namespace {

struct CloseDir {
    void operator()(DIR* dir) const { closedir(dir); }
};

}  // namespace

std::set<std::string> clusterd_shm_names() {
    std::set<std::string> names;
    std::unique_ptr<DIR, CloseDir> dir(opendir("/dev/shm"));
    if (!dir) return names;
    while (const dirent* entry = readdir(dir.get())) {
        const std::string name = entry->d_name;
        if (name.rfind("clusterd", 0) == 0) names.insert(name);
    }
    return names;
}

std::vector<std::string> segment_memfds(pid_t pid, const std::string& which) {
    std::vector<std::string> found;
    const std::string fds = "/proc/" + std::to_string(pid) + "/fd";
    std::unique_ptr<DIR, CloseDir> dir(opendir(fds.c_str()));
    if (!dir) return found;
    const std::string wanted = "/memfd:clusterd-" + which + " ";
    while (const dirent* entry = readdir(dir.get())) {
        if (entry->d_name[0] == '.') continue;
        const std::string path = fds + "/" + entry->d_name;
        char target[256] = {};
        const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
        if (n > 0 && std::string(target, static_cast<std::size_t>(n)).rfind(wanted, 0) == 0) found.push_back(path);
    }
    return found;
}

}  // namespace clusterd::test
