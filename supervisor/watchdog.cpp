#include "supervisor/watchdog.hpp"

#include <cstdio>

namespace clusterd::supervisor {
namespace {

// A heartbeat this far in the future is not clock skew (one clock, one
// machine): the worker wrote garbage.
constexpr std::int64_t future_slack_ms = 1000;

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", seconds);
    return text;
}

}  // namespace

HangVerdict judge_heartbeat(const HeartbeatReading& reading, std::int64_t now_ms, Millis hang_timeout) {
    const auto timeout_ms = hang_timeout.count();
    // Until this generation writes its first heartbeat, silence is measured
    // from its start: a worker that hangs while booting is caught too.
    std::int64_t last_sign_of_life = reading.started_ms;
    if (reading.writer_generation == reading.slot_generation) {
        if (reading.heartbeat_ms > now_ms + future_slack_ms ||
            (reading.heartbeat_ms != 0 && reading.heartbeat_ms < reading.started_ms)) {
            return {HangVerdict::Kind::invalid, 0, "it wrote an impossible heartbeat (" +
                                                       std::to_string(reading.heartbeat_ms) + " ms)"};
        }
        if (reading.heartbeat_ms != 0) last_sign_of_life = reading.heartbeat_ms;
    } else if (reading.writer_generation > reading.slot_generation) {
        return {HangVerdict::Kind::invalid, 0, "it claims generation " + std::to_string(reading.writer_generation) +
                                                   ", which has not been started"};
    }
    const auto silent_ms = now_ms - last_sign_of_life;
    if (timeout_ms <= 0 || silent_ms <= timeout_ms) return {};
    const double silent = static_cast<double>(silent_ms) / 1000.0;
    return {HangVerdict::Kind::hung, silent, "no heartbeat for " + seconds_text(silent)};
}

}  // namespace clusterd::supervisor
