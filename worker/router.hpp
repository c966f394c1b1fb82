// Maps a parsed request to a response. Every route here answers on the event
// loop and is cheap, except /compute, which is inline until the executors of
// a later issue take it off the loop.
//
//   GET|HEAD /            200 hello
//   GET|HEAD /healthz     200 liveness, never queued behind anything
//   GET|HEAD /readyz      200 ready, 503 while draining
//   GET|HEAD /compute/fib?n=K   JSON; 400 outside 0..45
//   GET|HEAD /debug/crash?mode= only with --enable-fault-injection (404 otherwise)
//   other methods → 405 with Allow; other paths → 404
#pragma once

#include "common/shm_segment.hpp"
#include "worker/http_request_reader.hpp"
#include "worker/http_response.hpp"

namespace clusterd::worker {

struct RouteContext {
    bool draining = false;
    bool fault_injection = false;
    const ShmSegment* segment = nullptr;  // the cluster's scoreboard, for /metrics and /status
};

[[nodiscard]] Response route(const Request& request, const RouteContext& context);

}  // namespace clusterd::worker
