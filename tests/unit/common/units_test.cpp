#include <catch2/catch.hpp>

#include "common/units.hpp"

using namespace std::chrono_literals;
using namespace clusterd;

TEST_CASE("durations read the way operators write them", "[common][units]") {
    REQUIRE(parse_duration("250ms") == Millis{250});
    REQUIRE(parse_duration("10s") == Millis{10'000});
    REQUIRE(parse_duration("1.5s") == Millis{1500});
    REQUIRE(parse_duration("2m") == Millis{120'000});
    REQUIRE(parse_duration("3") == Millis{3000});
    REQUIRE(parse_duration("0") == Millis{0});
}

TEST_CASE("a duration that is not one is refused", "[common][units]") {
    auto text = GENERATE("", "ms", "10x", "-1s", "1e400s", "abc", "10 s", "nan");
    CAPTURE(text);
    REQUIRE_FALSE(parse_duration(text).has_value());
}

TEST_CASE("byte sizes take binary suffixes", "[common][units]") {
    REQUIRE(parse_byte_size("512") == 512u);
    REQUIRE(parse_byte_size("8KiB") == 8192u);
    REQUIRE(parse_byte_size("8k") == 8192u);
    REQUIRE(parse_byte_size("1MiB") == 1048576u);
    REQUIRE_FALSE(parse_byte_size("1.3").has_value());
    REQUIRE_FALSE(parse_byte_size("big").has_value());
}

TEST_CASE("a duration prints back in its largest whole unit", "[common][units]") {
    REQUIRE(format_duration(Millis{250}) == "250ms");
    REQUIRE(format_duration(Millis{10'000}) == "10s");
    REQUIRE(format_duration(Millis{120'000}) == "2m");
    REQUIRE(format_duration(Millis{0}) == "0ms");
}
