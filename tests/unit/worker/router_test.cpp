#include <catch2/catch.hpp>

#include "worker/router.hpp"

using namespace clusterd::worker;

namespace {

Request get(std::string target, std::string method = "GET") {
    Request request;
    request.method = std::move(method);
    request.target = std::move(target);
    return request;
}

const std::string* header(const Response& response, const std::string& name) {
    for (const auto& [key, value] : response.headers) {
        if (key == name) return &value;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("the liveness and hello routes answer 200", "[worker][router]") {
    auto path = GENERATE("/", "/healthz", "/readyz");
    REQUIRE(route(get(path), {}).status == 200);
}

TEST_CASE("readiness turns 503 while draining, liveness does not", "[worker][router]") {
    RouteContext draining{true, false};
    REQUIRE(route(get("/readyz"), draining).status == 503);
    REQUIRE(route(get("/healthz"), draining).status == 200);
}

TEST_CASE("fib computes, and refuses n outside its bounds", "[worker][router]") {
    Response ok = route(get("/compute/fib?n=30"), {});
    REQUIRE(ok.status == 200);
    REQUIRE(ok.content_type == "application/json");
    REQUIRE_THAT(ok.body, Catch::Contains("\"result\":832040"));
    REQUIRE(route(get("/compute/fib?n=46"), {}).status == 400);
    REQUIRE(route(get("/compute/fib"), {}).status == 400);
}

TEST_CASE("a method a route does not take is 405 with Allow", "[worker][router]") {
    auto method = GENERATE("POST", "PUT", "DELETE", "PATCH", "BREW");
    Response response = route(get("/healthz", method), {});
    REQUIRE(response.status == 405);
    REQUIRE(header(response, "Allow") != nullptr);
    REQUIRE(*header(response, "Allow") == "GET, HEAD");
}

TEST_CASE("an unknown path is 404 whatever the method", "[worker][router]") {
    REQUIRE(route(get("/nope"), {}).status == 404);
    REQUIRE(route(get("/nope", "POST"), {}).status == 404);
}

TEST_CASE("the crash route does not exist without fault injection", "[worker][router]") {
    REQUIRE(route(get("/debug/crash?mode=segv"), {}).status == 404);
    RouteContext faults{false, true};
    REQUIRE(route(get("/debug/crash?mode=nonsense"), faults).status == 400);
    Response slow = route(get("/debug/crash?mode=slow&ms=20"), faults);
    REQUIRE(slow.status == 200);
    REQUIRE(slow.delay.count() == 20);
    REQUIRE(route(get("/debug/crash?mode=segv", "POST"), faults).status == 405);
}
