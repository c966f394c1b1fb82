// The classic CPU-bound task: naive recursive Fibonacci, exponential on
// purpose, so that fib(n) is a dial from microseconds to seconds of CPU.
#pragma once

#include <cstdint>

namespace stock {

// Beyond this, one request would hold a core for minutes.
inline constexpr unsigned fib_max_n = 45;

[[nodiscard]] std::uint64_t fib(unsigned n);

}  // namespace stock
