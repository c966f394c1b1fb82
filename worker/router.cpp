#include "worker/router.hpp"

#include <chrono>
#include <cstdio>

#include "common/monotonic.hpp"
#include "common/status_report.hpp"
#include "worker/compute/fib.hpp"
#include "worker/metrics.hpp"
#include "worker/fault_injection.hpp"
#include "worker/query.hpp"

namespace clusterd::worker {
namespace {

Response compute_fib(const Target& target) {
    auto n = query_uint(target.query, "n", 0, compute::fib_max_n);
    if (auto* error = std::get_if<std::string>(&n)) return text_response(400, *error);
    const auto start = std::chrono::steady_clock::now();
    const auto value = compute::fib(static_cast<unsigned>(std::get<std::uint64_t>(n)));
    const std::chrono::duration<double, std::milli> spent = std::chrono::steady_clock::now() - start;
    char json[160];
    std::snprintf(json, sizeof json, "{\"kind\":\"fib\",\"n\":%llu,\"result\":%llu,\"compute_ms\":%.3f}\n",
                  static_cast<unsigned long long>(std::get<std::uint64_t>(n)),
                  static_cast<unsigned long long>(value), spent.count());
    Response response = text_response(200, json);
    response.content_type = "application/json";
    return response;
}

Response hello(const Target&, const RouteContext&) { return text_response(200, "hello from clusterd"); }
Response healthz(const Target&, const RouteContext&) { return text_response(200, "ok"); }
Response readyz(const Target&, const RouteContext& context) {
    return context.draining ? text_response(503, "draining") : text_response(200, "ready");
}
Response fib(const Target& target, const RouteContext&) { return compute_fib(target); }
Response crash(const Target& target, const RouteContext&) { return inject_fault(target.query); }

Response metrics(const Target&, const RouteContext& context) {
    if (context.segment == nullptr) return text_response(503, "no scoreboard");
    Response response = text_response(200, prometheus_text(take_snapshot(*context.segment, monotonic_ms())));
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return response;
}

Response status(const Target&, const RouteContext& context) {
    if (context.segment == nullptr) return text_response(503, "no scoreboard");
    Response response = text_response(200, status_json(take_snapshot(*context.segment, monotonic_ms())));
    response.content_type = "application/json";
    return response;
}

struct Route {
    std::string_view path;
    Response (*handler)(const Target&, const RouteContext&);
    bool fault_injection_only;
};

constexpr Route routes[] = {
    {"/", hello, false},
    {"/healthz", healthz, false},
    {"/readyz", readyz, false},
    {"/compute/fib", fib, false},
    {"/metrics", metrics, false},
    {"/status", status, false},
    {"/debug/crash", crash, true},
};

const Route* find_route(const std::string& path, const RouteContext& context) {
    for (const auto& route : routes) {
        if (route.path == path && (!route.fault_injection_only || context.fault_injection)) return &route;
    }
    return nullptr;
}

}  // namespace

Response route(const Request& request, const RouteContext& context) {
    auto target = split_target(request.target);
    if (!target) return text_response(400, "malformed request target");
    const Route* found = find_route(target->path, context);
    if (found == nullptr) return text_response(404, "no route for " + target->path.substr(0, 200));
    // Every route is read-only. The path is looked up first so an unknown
    // path is a 404 whatever the method, as a client would expect.
    if (request.method != "GET" && request.method != "HEAD") {
        Response refused = text_response(405, "method " + request.method.substr(0, 32) + " not allowed");
        refused.headers.emplace_back("Allow", "GET, HEAD");
        return refused;
    }
    return found->handler(*target, context);
}

}  // namespace clusterd::worker
