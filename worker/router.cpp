#include "worker/router.hpp"

#include "common/monotonic.hpp"
#include "common/status_report.hpp"
#include "worker/compute/kinds.hpp"
#include "worker/metrics.hpp"
#include "worker/fault_injection.hpp"
#include "worker/query.hpp"

namespace clusterd::worker {
namespace {

Response hello(const Target&, const RouteContext&) { return text_response(200, "hello from clusterd"); }
Response healthz(const Target&, const RouteContext&) { return text_response(200, "ok"); }
Response readyz(const Target&, const RouteContext& context) {
    return context.draining ? text_response(503, "draining") : text_response(200, "ready");
}
Response crash(const Target& target, const RouteContext& context) {
    ScoreboardSlot* own = context.segment != nullptr && context.slot < context.segment->slot_count()
                              ? &context.segment->slot(context.slot)
                              : nullptr;
    LogRing* ring = own != nullptr ? &context.segment->rings(context.slot).log : nullptr;
    return inject_fault(target.query, FaultTarget{own, ring});
}

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

Response method_not_allowed(const Request& request) {
    Response refused = text_response(405, "method " + request.method.substr(0, 32) + " not allowed");
    refused.headers.emplace_back("Allow", "GET, HEAD");
    return refused;
}

constexpr std::string_view compute_prefix = "/compute/";

}  // namespace

RouteResult route(const Request& request, const RouteContext& context) {
    auto target = split_target(request.target);
    if (!target) return text_response(400, "malformed request target");
    // Every route is read-only. The path is looked up first so an unknown
    // path is a 404 whatever the method, as a client would expect.
    const bool read_only = request.method == "GET" || request.method == "HEAD";
    if (target->path.starts_with(compute_prefix)) {
        auto kind = compute::job_kind_from_path(std::string_view(target->path).substr(compute_prefix.size()));
        if (!kind) return text_response(404, "no route for " + target->path.substr(0, 200));
        if (!read_only) return method_not_allowed(request);
        auto job = compute::parse_job(*kind, target->query, context.fault_injection);
        if (auto* error = std::get_if<std::string>(&job)) return text_response(400, *error);
        return std::get<JobParams>(job);
    }
    const Route* found = find_route(target->path, context);
    if (found == nullptr) return text_response(404, "no route for " + target->path.substr(0, 200));
    if (!read_only) return method_not_allowed(request);
    return found->handler(*target, context);
}

}  // namespace clusterd::worker
