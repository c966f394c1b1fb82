// CLOCK_MONOTONIC in milliseconds: one clock every process on the machine
// shares, so a heartbeat written by a worker can be aged by the supervisor.
#pragma once

#include <cstdint>
#include <ctime>

namespace clusterd {

[[nodiscard]] inline std::int64_t monotonic_ms() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
}

// The same clock in microseconds, for latency histograms.
[[nodiscard]] inline std::int64_t monotonic_us() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
}

}  // namespace clusterd
