// The kinds of compute work a client can ask for (/compute/fib, /primes,
// /hash): how a query becomes a JobParams, how a JobParams is run, and how
// the answer is spelled. Every executor calls run_job(), so the three of them
// compute exactly the same thing and differ only in where it runs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/compute_job.hpp"

namespace clusterd::worker::compute {

// "fib", "primes", "hash" (the last segment of /compute/<kind>); empty for
// anything else.
[[nodiscard]] std::optional<JobKind> job_kind_from_path(std::string_view name);

// The inverse; "unknown" for a value outside the enum.
[[nodiscard]] std::string_view job_kind_name(JobKind kind);

// The query of a /compute/<kind> request as a job, or the sentence a 400
// carries ("limit must be an integer from 2 to 50000000, not 'x'"):
//   fib     n=0..45 (required)
//   primes  limit=2..50000000 (required)
//   hash    rounds=1..5000000 (default 10000), data=0..64 bytes after
//           percent-decoding (default "clusterd")
//   all     crash=1 or hang=1, only when fault_injection is true
// Unknown parameters are ignored, as the other routes do.
[[nodiscard]] std::variant<JobParams, std::string> parse_job(JobKind kind, std::string_view query,
                                                             bool fault_injection);

// Computes a job. Thread-safe and free of shared state. The params are
// checked again, from one private copy, because they may have crossed shared
// memory from a process that died mid-write: anything out of bounds gives
// status invalid, never a huge allocation or undefined behaviour. A crash
// fault ends the process with SIGSEGV and a hang fault never returns; both
// are honoured as given, so only parse_job decides whether they are allowed.
[[nodiscard]] JobResult run_job(const JobParams& params);

// One line of JSON ending in "\n", e.g.
//   {"kind":"fib","n":30,"result":832040,"compute_ms":1.234}
//   {"kind":"primes","limit":1000000,"count":78498,"compute_ms":4.5}
//   {"kind":"hash","rounds":1000,"data_bytes":8,"digest":"...","compute_ms":0.9}
// data is never echoed (it may be binary). A result whose status is not ok
// gives {"kind":...,"error":"..."} instead of numbers that would be wrong.
[[nodiscard]] std::string result_json(const JobParams& params, const JobResult& result);

// "fib n=40", "primes limit=1000000", "hash rounds=10000": what the scoreboard
// shows as the job a process is busy with.
[[nodiscard]] std::string describe_job(const JobParams& params);

}  // namespace clusterd::worker::compute
