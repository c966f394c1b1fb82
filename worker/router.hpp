// Maps a parsed request to a response, or to a compute job whose response
// comes later (worker/compute/dispatcher.hpp runs it). Every route here
// answers on the event loop and is cheap; /compute only parses and checks.
//
//   GET|HEAD /            200 hello
//   GET|HEAD /healthz     200 liveness, never queued behind anything
//   GET|HEAD /readyz      200 ready, 503 while draining
//   GET|HEAD /compute/fib?n=K, /compute/primes?limit=L, /compute/hash?rounds=R&data=D
//                         a job (400 with the reason for bad parameters)
//   GET|HEAD /metrics     Prometheus text for the whole cluster
//   GET|HEAD /status      JSON for the whole cluster
//   GET|HEAD /debug/crash?mode= only with --enable-fault-injection (404 otherwise)
//   other methods → 405 with Allow; other paths → 404
#pragma once

#include <variant>

#include "common/compute_job.hpp"
#include "common/shm_segment.hpp"
#include "worker/http_request_reader.hpp"
#include "worker/http_response.hpp"

namespace clusterd::worker {

struct RouteContext {
    bool draining = false;
    bool fault_injection = false;
    const ShmSegment* segment = nullptr;  // the cluster's scoreboard, for /metrics and /status
    unsigned slot = 0;                    // this worker's slot in it (fault injection's scribble mode)
};

// An answer now, or a job to run first.
using RouteResult = std::variant<Response, JobParams>;

[[nodiscard]] RouteResult route(const Request& request, const RouteContext& context);

}  // namespace clusterd::worker
