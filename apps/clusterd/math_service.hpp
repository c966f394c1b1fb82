// The stock clusterd's service, written only against <clusterd/app.hpp>:
//
//   GET /                      200 "hello from clusterd"
//   GET /compute/fib?n=K       naive recursive Fibonacci, n 0..45
//   GET /compute/primes?limit=L  primes <= L by sieve, L 2..50000000
//   GET /compute/hash?rounds=R&data=D  PBKDF2-HMAC-SHA256 of D (<= 64 bytes), R 1..5000000
//
// Each /compute route checks its query (400 with the reason) and runs the
// task of the same name on the configured executor; the task answers one
// line of JSON, e.g. {"kind":"fib","n":30,"result":832040,"compute_ms":1.2}.
#pragma once

#include <clusterd/app.hpp>

namespace stock {

void declare_math_service(clusterd::App& app);

}  // namespace stock
