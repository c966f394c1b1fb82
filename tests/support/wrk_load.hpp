// A bounded keep-alive load from wrk (Debian's package) on a thread, for the
// tests that must show that reloads, upgrades and restarts fail no request:
//
//   WrkLoad load(daemon.port(), 20, 10s);   // starts at once
//   ... reload, upgrade, kill ...
//   const std::string report = load.finish();  // joins; wrk's whole report
//
// finish() is also called by the destructor, so a failing REQUIRE never leaves
// the thread running (std::terminate would swallow the daemon's log).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace clusterd::test {

// True when wrk is installed; the tests that need it WARN and return otherwise.
[[nodiscard]] bool wrk_installed();

class WrkLoad {
public:
    WrkLoad(std::uint16_t port, unsigned connections, std::chrono::seconds duration, const std::string& path = "/");
    ~WrkLoad();
    WrkLoad(const WrkLoad&) = delete;
    WrkLoad& operator=(const WrkLoad&) = delete;

    // Waits for wrk to end; its report (empty if it could not run).
    std::string finish();

private:
    std::string report_path_;
    std::thread thread_;
};

}  // namespace clusterd::test
