#include "worker/router.hpp"

#include <algorithm>

#include "common/monotonic.hpp"
#include "common/status_report.hpp"
#include "worker/fault_injection.hpp"
#include "worker/metrics.hpp"

namespace clusterd::worker {
namespace {

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
    Response response =
        text_response(200, prometheus_text(take_snapshot(*context.segment, monotonic_ms()), context.app));
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return response;
}

Response status(const Target&, const RouteContext& context) {
    if (context.segment == nullptr) return text_response(503, "no scoreboard");
    ClusterSnapshot snapshot = take_snapshot(*context.segment, monotonic_ms());
    snapshot.fault_injection = context.fault_injection;
    std::optional<ExecutorCounts> executors;
    if (context.config != nullptr) executors = executor_counts(*context.config);
    Response response = text_response(200, status_json(snapshot, application_names(context.app), executors));
    response.content_type = "application/json";
    return response;
}

enum class Exposure { always, admin, fault_injection };

struct BuiltinRoute {
    std::string_view path;
    Response (*handler)(const Target&, const RouteContext&);
    Exposure exposure;
};

constexpr BuiltinRoute builtin_routes[] = {
    {"/healthz", healthz, Exposure::always},
    {"/readyz", readyz, Exposure::always},
    {"/metrics", metrics, Exposure::admin},
    {"/status", status, Exposure::admin},
    {"/debug/crash", crash, Exposure::fault_injection},
};

bool exposed(Exposure exposure, const RouteContext& context) {
    switch (exposure) {
        case Exposure::always: return true;
        case Exposure::admin: return context.admin_routes;
        case Exposure::fault_injection: return context.fault_injection && context.app_routes;
    }
    return false;
}

const BuiltinRoute* find_builtin(const std::string& path, const RouteContext& context) {
    for (const auto& route : builtin_routes) {
        if (route.path == path && exposed(route.exposure, context)) return &route;
    }
    return nullptr;
}

Response method_not_allowed(const Request& request, std::string allow) {
    Response refused = text_response(405, "method " + request.method.substr(0, 32) + " not allowed");
    refused.headers.emplace_back("Allow", std::move(allow));
    return refused;
}

Response not_found(const Target& target) { return text_response(404, "no route for " + target.path.substr(0, 200)); }

}  // namespace

BodyAllowance body_allowance(std::string_view method, std::string_view target, const RouteContext& context,
                             std::uint64_t max_body) {
    const BodyAllowance none{0, false};
    auto parts = split_target(target);
    if (!parts) return none;
    if (find_builtin(parts->path, context) != nullptr) {
        return BodyAllowance{0, method == "GET" || method == "HEAD"};
    }
    if (context.app == nullptr || !context.app_routes) return none;
    auto found = context.app->routes.find(method, parts->path);
    auto* match = std::get_if<RouteMatch>(&found);
    if (match == nullptr) return none;
    const auto& spec = context.app->handlers[match->index];
    const auto route_method = method_from_string(method).value_or(Method::get);
    const bool takes_body =
        route_method == Method::post || route_method == Method::put || route_method == Method::patch;
    const std::uint64_t limit = spec.max_body.value_or(takes_body ? max_body : 0);
    return BodyAllowance{std::min(limit, max_body), true};
}

RouteResult route(const Request& request, const RouteContext& context) {
    auto target = split_target(request.target);
    if (!target) return text_response(400, "malformed request target");
    // The path is looked up first so an unknown path is a 404 whatever the
    // method, as a client would expect.
    if (const BuiltinRoute* builtin = find_builtin(target->path, context)) {
        if (request.method != "GET" && request.method != "HEAD") return method_not_allowed(request, "GET, HEAD");
        return builtin->handler(*target, context);
    }
    if (context.app == nullptr || !context.app_routes) return not_found(*target);
    auto found = context.app->routes.find(request.method, target->path);
    if (std::holds_alternative<NoRoute>(found)) return not_found(*target);
    if (auto* refused = std::get_if<MethodNotAllowed>(&found)) return method_not_allowed(request, refused->allow);
    auto& match = std::get<RouteMatch>(found);
    AppRoute app_route;
    app_route.index = match.index;
    app_route.method = method_from_string(request.method).value_or(Method::get);
    app_route.target = std::move(*target);
    app_route.params = std::move(match.params);
    return app_route;
}

}  // namespace clusterd::worker
