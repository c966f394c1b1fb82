#include "supervisor/notify_message.hpp"

#include <catch2/catch.hpp>

using namespace clusterd::supervisor;
using namespace std::chrono_literals;

TEST_CASE("an sd_notify datagram becomes what clusterd acts on", "[supervisor][notify]") {
    SECTION("readiness with a status, as sd_notify(0, \"READY=1\\nSTATUS=...\") sends it") {
        const auto message = parse_notify_text("READY=1\nSTATUS=listening on fd 3\nMAINPID=42");
        CHECK(message.ready);
        CHECK_FALSE(message.watchdog);
        REQUIRE(message.status);
        CHECK(*message.status == "listening on fd 3");
        CHECK(message.malformed == 0);
    }
    SECTION("a watchdog ping, stopping, and more time to start") {
        const auto message = parse_notify_text("WATCHDOG=1\nSTOPPING=1\nEXTEND_TIMEOUT_USEC=5000000\n");
        CHECK(message.watchdog);
        CHECK(message.stopping);
        REQUIRE(message.extend_start);
        CHECK(*message.extend_start == 5s);
    }
    SECTION("WATCHDOG=trigger asks to be treated as hung") {
        const auto message = parse_notify_text("WATCHDOG=trigger");
        CHECK(message.watchdog_trigger);
        CHECK_FALSE(message.watchdog);
    }
    SECTION("an empty STATUS= clears the status, it does not leave the old one") {
        const auto message = parse_notify_text("STATUS=");
        REQUIRE(message.status);
        CHECK(message.status->empty());
    }
    SECTION("lines of the stream channel accumulate like one datagram, CRLF included") {
        NotifyMessage message;
        parse_notify_text("STATUS=warming\r\n", message);
        parse_notify_text("READY=1\r\n", message);
        CHECK(message.ready);
        CHECK(*message.status == "warming");
    }
}

TEST_CASE("what is not a valid assignment is counted, not acted on", "[supervisor][notify]") {
    const auto [text, malformed] = GENERATE(table<const char*, std::size_t>({
        {"READY", 1},
        {"=1", 1},
        {"READY=0", 1},
        {"READY=yes", 1},
        {"WATCHDOG=2", 1},
        {"EXTEND_TIMEOUT_USEC=abc", 1},
        {"EXTEND_TIMEOUT_USEC=-5", 1},
        {"EXTEND_TIMEOUT_USEC=", 1},
        {"garbage\nREADY=1\nmore garbage", 2},
        {"ERRNO=2\nFDSTORE=1\nX_CUSTOM=anything", 0},
        {"\n\n\n", 0},
    }));
    INFO(text);
    const auto message = parse_notify_text(text);
    CHECK(message.malformed == malformed);
    CHECK(message.ready == (std::string_view(text).find("\nREADY=1\n") != std::string_view::npos));
    CHECK_FALSE(message.extend_start);
}
