// Route patterns: what a table accepts, and which route a path and method reach.
#include "worker/route_table.hpp"

#include <catch2/catch.hpp>

using clusterd::Method;
using namespace clusterd::worker;

TEST_CASE("a malformed or repeated pattern is refused with a sentence", "[worker][router]") {
    RouteTable table;
    const std::string bad = GENERATE("items", "", "/items/{", "/items/{}", "/items/{a}b", "/x/{a}/{a}", "/a/{b/c}");
    REQUIRE_THROWS_AS(table.add(Method::get, bad), std::invalid_argument);
    table.add(Method::get, "/items/{id}");
    REQUIRE_THROWS_WITH(table.add(Method::get, "/items/{other}"), Catch::Contains("declared twice"));
    REQUIRE_NOTHROW(table.add(Method::post, "/items/{other}"));
}

TEST_CASE("a literal segment beats a parameter, whatever the declaration order", "[worker][router]") {
    RouteTable table;
    REQUIRE(table.add(Method::get, "/users/{id}") == 0);
    REQUIRE(table.add(Method::get, "/users/me") == 1);
    const auto me = std::get<RouteMatch>(table.find("GET", "/users/me"));
    REQUIRE(me.index == 1);
    REQUIRE(me.params.empty());
    const auto other = std::get<RouteMatch>(table.find("GET", "/users/7"));
    REQUIRE(other.index == 0);
    REQUIRE(other.params.at(0).second == "7");
}

TEST_CASE("every method an application may route is found, others are 405", "[worker][router]") {
    RouteTable table;
    for (Method method : {Method::get, Method::post, Method::put, Method::patch, Method::del}) {
        table.add(method, "/thing");
    }
    for (const char* method : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}) {
        REQUIRE(std::holds_alternative<RouteMatch>(table.find(method, "/thing")));
    }
    const auto brew = std::get<MethodNotAllowed>(table.find("BREW", "/thing"));
    REQUIRE(brew.allow == "GET, HEAD, POST, PUT, PATCH, DELETE");
    REQUIRE(std::holds_alternative<NoRoute>(table.find("GET", "/other")));
}
