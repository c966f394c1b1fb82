#include <catch2/catch.hpp>

#include "worker/query.hpp"

using namespace clusterd::worker;

TEST_CASE("a target splits into a decoded path and a raw query", "[worker][query]") {
    auto target = split_target("/compute/fib?n=10&x=%20");
    REQUIRE(target);
    REQUIRE(target->path == "/compute/fib");
    REQUIRE(target->query == "n=10&x=%20");
    REQUIRE(split_target("/a%2Fb")->path == "/a/b");
    REQUIRE(split_target("http://example.com/healthz?x=1")->path == "/healthz");
    REQUIRE(split_target("http://example.com")->path == "/");
}

TEST_CASE("targets that are not paths are refused", "[worker][query]") {
    auto target = GENERATE("", "*", "healthz", "/%zz", "/%4", "http://example.com?x");
    CAPTURE(target);
    REQUIRE_FALSE(split_target(target));
}

TEST_CASE("query parameters are found by name and decoded", "[worker][query]") {
    REQUIRE(query_param("a=1&b=two%21", "b") == "two!");
    REQUIRE(query_param("a=1&a=2", "a") == "1");
    REQUIRE(query_param("flag&b=2", "flag") == "");
    REQUIRE_FALSE(query_param("ab=1", "a"));
}

TEST_CASE("a raw parameter tells a broken escape from a missing parameter", "[worker][query]") {
    REQUIRE(query_raw_param("a=1&data=%zz", "data") == "%zz");
    REQUIRE_FALSE(query_param("a=1&data=%zz", "data"));
    REQUIRE(query_raw_param("flag", "flag") == "");
    REQUIRE_FALSE(query_raw_param("a=1", "data"));
}

TEST_CASE("an integer parameter outside its bounds is an error sentence", "[worker][query]") {
    REQUIRE(std::get<std::uint64_t>(query_uint("n=45", "n", 0, 45)) == 45);
    REQUIRE(std::get<std::uint64_t>(query_uint("", "n", 0, 45, 7)) == 7);
    auto bad = GENERATE("n=46", "n=-1", "n=abc", "n=", "n=1x", "", "n=99999999999999999999999");
    CAPTURE(bad);
    auto result = query_uint(bad, "n", 0, 45);
    REQUIRE(std::holds_alternative<std::string>(result));
    REQUIRE_THAT(std::get<std::string>(result), Catch::StartsWith("n must be an integer from 0 to 45"));
}
