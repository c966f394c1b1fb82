// Maps a parsed request to clusterd's own answer, or to the application's
// route that serves it (the connection then calls its handler). clusterd's
// routes come first and answer on the event loop, cheaply:
//
//   GET|HEAD /healthz     200 liveness, never queued behind anything
//   GET|HEAD /readyz      200 ready, 503 while draining
//   GET|HEAD /metrics     Prometheus text for the whole cluster (the admin routes:
//   GET|HEAD /status      JSON for the whole cluster         off with --admin-only-metrics)
//   GET|HEAD /debug/crash?mode= only with --enable-fault-injection (404 otherwise)
//   other methods on those → 405 with Allow
//
// then the application's table (route_table.hpp): a match, a 405 with the
// path's methods in Allow, or a 404.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/config.hpp"
#include "common/shm_segment.hpp"
#include "worker/app_model.hpp"
#include "worker/http_request_reader.hpp"
#include "worker/http_response.hpp"
#include "worker/query.hpp"

namespace clusterd::worker {

struct RouteContext {
    bool draining = false;
    bool fault_injection = false;
    const ShmSegment* segment = nullptr;  // the cluster's scoreboard, for /metrics and /status
    unsigned slot = 0;                    // this worker's slot in it (fault injection's scribble mode)
    const detail::AppModel* app = nullptr;  // the application's routes; null: none
    bool app_routes = true;    // false on the admin listener: the application's routes are not served there
    bool admin_routes = true;  // /metrics and /status; false on the public port with --admin-only-metrics
    const Config* config = nullptr;  // this worker's configuration: /status shows its executor counts
};

// The application route a request goes to.
struct AppRoute {
    std::size_t index = 0;
    Method method = Method::get;
    Target target;
    std::vector<std::pair<std::string, std::string>> params;
};

using RouteResult = std::variant<Response, AppRoute>;

[[nodiscard]] RouteResult route(const Request& request, const RouteContext& context);

// What body the route a request head goes to may have, decided from the
// head alone (the reader refuses more before reading any of the body).
// clusterd's own routes take none; an application route takes its
// RouteOptions::max_body, by default max_body for POST, PUT and PATCH and
// none for GET, HEAD and DELETE. A head that no route will serve (404, 405)
// gets no body either: it is answered as routed, then the connection closes.
[[nodiscard]] BodyAllowance body_allowance(std::string_view method, std::string_view target,
                                           const RouteContext& context, std::uint64_t max_body);

}  // namespace clusterd::worker
