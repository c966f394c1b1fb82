// Counting primes with a sieve: a CPU- and memory-bound job whose cost grows
// a little faster than linearly with the limit, the counterpart to fib's
// pure recursion.
#pragma once

#include <cstdint>

namespace stock {

// 2 is the first limit with an answer worth computing; at 50 million the
// odd-only bit sieve holds 25 million bits (about 3 MiB) and runs for
// about 70 ms.
inline constexpr std::uint64_t primes_min_limit = 2;
inline constexpr std::uint64_t primes_max_limit = 50'000'000;

// The number of primes <= limit (pi(limit)); 0 below 2. The caller keeps
// limit within primes_max_limit: the sieve allocates limit / 16 bytes.
[[nodiscard]] std::uint64_t count_primes(std::uint64_t limit);

}  // namespace stock
