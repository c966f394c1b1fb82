#include <catch2/catch.hpp>

#include "clusterd/app.hpp"
#include "worker/router.hpp"

using namespace clusterd::worker;
using WireResponse = clusterd::worker::Response;

namespace {

Request get(std::string target, std::string method = "GET") {
    Request request;
    request.method = std::move(method);
    request.target = std::move(target);
    return request;
}

// clusterd's own answer (anything but an application route).
WireResponse now(const RouteResult& result) {
    REQUIRE(std::holds_alternative<WireResponse>(result));
    return std::get<WireResponse>(result);
}

const std::string* header(const WireResponse& response, const std::string& name) {
    for (const auto& [key, value] : response.headers) {
        if (key == name) return &value;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("the liveness routes answer 200", "[worker][router]") {
    auto path = GENERATE("/healthz", "/readyz");
    REQUIRE(now(route(get(path), {})).status == 200);
}

TEST_CASE("readiness turns 503 while draining and liveness does not", "[worker][router]") {
    RouteContext draining{true, false};
    REQUIRE(now(route(get("/readyz"), draining)).status == 503);
    REQUIRE(now(route(get("/healthz"), draining)).status == 200);
}

TEST_CASE("an application route is found by path, then by method, with its parameters", "[worker][router]") {
    clusterd::App app{"test"};
    const auto ok = [](const clusterd::Request&) { return clusterd::Response::text(200, "ok"); };
    app.get("/", ok).get("/items/{id}", ok).put("/items/{id}", ok).post("/items/new", ok);
    RouteContext context;
    context.app = &app.model();

    auto found = route(get("/items/42%20x?full=1"), context);
    REQUIRE(std::holds_alternative<AppRoute>(found));
    const auto& item = std::get<AppRoute>(found);
    CHECK(item.index == 1);
    CHECK(item.target.query == "full=1");
    REQUIRE(item.params.size() == 1);
    CHECK(item.params[0] == std::pair<std::string, std::string>{"id", "42 x"});

    CHECK(std::get<AppRoute>(route(get("/items/9", "HEAD"), context)).index == 1);  // HEAD finds GET
    CHECK(std::get<AppRoute>(route(get("/items/9", "PUT"), context)).index == 2);
    CHECK(std::get<AppRoute>(route(get("/items/new", "POST"), context)).index == 3);
    CHECK(std::get<AppRoute>(route(get("/"), context)).index == 0);

    const auto refused = now(route(get("/items/9", "DELETE"), context));
    CHECK(refused.status == 405);
    CHECK(*header(refused, "Allow") == "GET, HEAD, PUT");
    // A literal route and a parameter route on the same path: their methods together.
    CHECK(*header(now(route(get("/items/new", "PATCH"), context)), "Allow") == "GET, HEAD, POST, PUT");
    CHECK(now(route(get("/items"), context)).status == 404);
    CHECK(now(route(get("/items/1/2"), context)).status == 404);
    CHECK(now(route(get("/items/"), context)).status == 404);  // an empty segment is no {id}
    CHECK(now(route(get("/nope", "POST"), context)).status == 404);
}

TEST_CASE("clusterd's own routes come before the application's", "[worker][router]") {
    clusterd::App app{"test"};
    REQUIRE_THROWS_AS(app.get("/healthz", [](const clusterd::Request&) { return clusterd::Response::text(200, "mine"); }),
                      std::invalid_argument);
    RouteContext context;
    context.app = &app.model();
    CHECK(now(route(get("/healthz"), context)).body.starts_with("ok"));
}

TEST_CASE("a method a route does not take is 405 with Allow", "[worker][router]") {
    auto method = GENERATE("POST", "PUT", "DELETE", "PATCH", "BREW");
    WireResponse response = now(route(get("/healthz", method), {}));
    REQUIRE(response.status == 405);
    REQUIRE(header(response, "Allow") != nullptr);
    REQUIRE(*header(response, "Allow") == "GET, HEAD");
}

TEST_CASE("an unknown path is 404 whatever the method", "[worker][router]") {
    REQUIRE(now(route(get("/nope"), {})).status == 404);
    REQUIRE(now(route(get("/nope", "POST"), {})).status == 404);
}

TEST_CASE("the crash route does not exist without fault injection", "[worker][router]") {
    REQUIRE(now(route(get("/debug/crash?mode=segv"), {})).status == 404);
    RouteContext faults{false, true};
    REQUIRE(now(route(get("/debug/crash?mode=nonsense"), faults)).status == 400);
    WireResponse slow = now(route(get("/debug/crash?mode=slow&ms=20"), faults));
    REQUIRE(slow.status == 200);
    REQUIRE(slow.delay.count() == 20);
    REQUIRE(now(route(get("/debug/crash?mode=segv", "POST"), faults)).status == 405);
}
