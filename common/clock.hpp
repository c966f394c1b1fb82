// The monotonic clock the policy code reads through, so unit tests can drive
// restart and breaker logic through hours of history in microseconds.
#pragma once

#include <chrono>

namespace clusterd {

using SteadyTime = std::chrono::steady_clock::time_point;

}  // namespace clusterd
