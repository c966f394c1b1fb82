#include "tests/support/wrk_load.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace clusterd::test {

bool wrk_installed() { return std::system("command -v wrk >/dev/null 2>&1") == 0; }

WrkLoad::WrkLoad(std::uint16_t port, unsigned connections, std::chrono::seconds duration, const std::string& path) {
    static std::atomic<unsigned> serial{0};
    report_path_ = "/tmp/clusterd-test-wrk-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
    // Bounded in time (timeout kills a wrk that hangs) and connections; loopback only.
    const std::string command = "timeout 60 wrk -t1 -c" + std::to_string(connections) + " -d" +
                                std::to_string(duration.count()) + "s http://127.0.0.1:" + std::to_string(port) + path +
                                " > " + report_path_ + " 2>&1";
    thread_ = std::thread([command] { (void)std::system(command.c_str()); });
}

WrkLoad::~WrkLoad() { (void)finish(); }

std::string WrkLoad::finish() {
    if (!thread_.joinable()) return "";
    thread_.join();
    std::ifstream in(report_path_);
    std::stringstream report;
    report << in.rdbuf();
    std::remove(report_path_.c_str());
    return report.str();
}

}  // namespace clusterd::test
