// Small readers of files the tests watch: a log file being written, and the
// fields of /proc/<pid>/status.
#pragma once

#include <sys/types.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/daemon.hpp"

namespace clusterd::test {

// The whole file; empty when it cannot be read.
inline std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Waits (bounded) until the file holds wanted.
inline bool file_contains(const std::string& path, const std::string& wanted) {
    return eventually([&] { return read_all(path).find(wanted) != std::string::npos; }, 15s);
}

// The first word of one field of /proc/<pid>/status: "Uid" gives the real
// uid, "CapEff" the hex mask, "NoNewPrivs" 0 or 1; "(no FIELD)" if absent.
inline std::string status_field(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(field + ":", 0) != 0) continue;
        std::istringstream value(line.substr(field.size() + 1));
        std::string first;
        value >> first;
        return first;
    }
    return "(no " + field + ")";
}

}  // namespace clusterd::test
