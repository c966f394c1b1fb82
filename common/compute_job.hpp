// A unit of CPU work as every executor sees it: what to compute (JobParams)
// and how it ended (JobResult). Both are plain, fixed-size and pointer-free,
// because with --compute=processes they travel through the shared segment's
// job ring between an HTTP worker and a compute process.
#pragma once

#include <cstdint>

namespace clusterd {

enum class JobKind : std::uint32_t {
    fib = 1,     // naive recursive Fibonacci of n
    primes = 2,  // count the primes <= n (sieve)
    hash = 3,    // PBKDF2-HMAC-SHA256 of data, n rounds
};

// Fault injection riding on a job (only accepted with --enable-fault-injection):
// the executor running it crashes or spins, so every failure path of the
// three executors can be hit on purpose.
enum class JobFault : std::uint32_t { none = 0, crash = 1, hang = 2 };

inline constexpr std::uint32_t job_data_capacity = 64;

struct JobParams {
    std::uint32_t kind = 0;   // a JobKind; a consumer rejects anything else
    std::uint32_t fault = 0;  // a JobFault
    std::uint64_t n = 0;      // fib: n; primes: the limit; hash: rounds
    std::uint32_t data_length = 0;  // hash only: bytes of data in use (<= job_data_capacity)
    std::uint32_t reserved = 0;
    char data[job_data_capacity] = {};
};

enum class JobStatus : std::uint32_t {
    ok = 1,       // value / digest hold the answer
    invalid = 2,  // the parameters were refused by the computation itself (garbage in a ring, say)
    crashed = 3,  // the executor died running it (compute process killed, ...): 502
};

struct JobResult {
    std::uint32_t status = 0;  // a JobStatus
    std::uint32_t reserved = 0;
    std::uint64_t value = 0;       // fib, primes
    std::uint64_t compute_us = 0;  // time spent computing, measured by whoever ran it
    char digest_hex[72] = {};      // hash: 64 hex digits, NUL-terminated
};

}  // namespace clusterd
