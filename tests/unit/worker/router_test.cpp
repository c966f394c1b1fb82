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

// The route's answer, when it answers now (everything but /compute).
Response now(const RouteResult& result) {
    REQUIRE(std::holds_alternative<Response>(result));
    return std::get<Response>(result);
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
    REQUIRE(now(route(get(path), {})).status == 200);
}

TEST_CASE("readiness turns 503 while draining and liveness does not", "[worker][router]") {
    RouteContext draining{true, false};
    REQUIRE(now(route(get("/readyz"), draining)).status == 503);
    REQUIRE(now(route(get("/healthz"), draining)).status == 200);
}

TEST_CASE("a compute route becomes a job and bad parameters and unknown kinds are answered now", "[worker][router]") {
    RouteResult job = route(get("/compute/fib?n=30"), {});
    REQUIRE(std::holds_alternative<clusterd::JobParams>(job));
    CHECK(std::get<clusterd::JobParams>(job).kind == static_cast<std::uint32_t>(clusterd::JobKind::fib));
    CHECK(std::get<clusterd::JobParams>(job).n == 30);
    REQUIRE(std::holds_alternative<clusterd::JobParams>(route(get("/compute/primes?limit=100"), {})));
    REQUIRE(std::holds_alternative<clusterd::JobParams>(route(get("/compute/hash"), {})));
    REQUIRE(now(route(get("/compute/fib?n=46"), {})).status == 400);
    REQUIRE(now(route(get("/compute/fib"), {})).status == 400);
    REQUIRE(now(route(get("/compute/fib?n=3&hang=1"), {})).status == 400);
    REQUIRE(now(route(get("/compute/sort"), {})).status == 404);
    REQUIRE(now(route(get("/compute/fib?n=3", "POST"), {})).status == 405);
}

TEST_CASE("a method a route does not take is 405 with Allow", "[worker][router]") {
    auto method = GENERATE("POST", "PUT", "DELETE", "PATCH", "BREW");
    Response response = now(route(get("/healthz", method), {}));
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
    Response slow = now(route(get("/debug/crash?mode=slow&ms=20"), faults));
    REQUIRE(slow.status == 200);
    REQUIRE(slow.delay.count() == 20);
    REQUIRE(now(route(get("/debug/crash?mode=segv", "POST"), faults)).status == 405);
}
