#include <catch2/catch.hpp>

#include "worker/http_response.hpp"

using namespace clusterd::worker;

TEST_CASE("a response serialises with length, date and connection headers", "[worker][http_response]") {
    Response response = text_response(200, "ok");
    std::string wire;
    serialize(response, WireOptions{}, "Sat, 21 Nov 2026 00:00:00 GMT", wire);
    REQUIRE_THAT(wire, Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
    REQUIRE_THAT(wire, Catch::Contains("Content-Length: 3\r\n"));
    REQUIRE_THAT(wire, Catch::Contains("Date: Sat, 21 Nov 2026 00:00:00 GMT\r\n"));
    REQUIRE_THAT(wire, !Catch::Contains("Connection:"));
    REQUIRE_THAT(wire, Catch::EndsWith("\r\n\r\nok\n"));
}

TEST_CASE("HEAD keeps the length and drops the body", "[worker][http_response]") {
    std::string wire;
    serialize(text_response(200, "hello"), WireOptions{true, true, false}, "d", wire);
    REQUIRE_THAT(wire, Catch::Contains("Content-Length: 6\r\n"));
    REQUIRE_THAT(wire, Catch::EndsWith("\r\n\r\n"));
}

TEST_CASE("closing and HTTP/1.0 keep-alive are said explicitly", "[worker][http_response]") {
    std::string closing;
    serialize(text_response(400, "bad"), WireOptions{false, false, false}, "d", closing);
    REQUIRE_THAT(closing, Catch::Contains("Connection: close\r\n"));
    std::string kept;
    serialize(text_response(200, "ok"), WireOptions{false, true, true}, "d", kept);
    REQUIRE_THAT(kept, Catch::Contains("Connection: keep-alive\r\n"));
}

TEST_CASE("the Date header is an IMF-fixdate", "[worker][http_response]") {
    HttpDate date;
    const std::string& now = date.now();
    REQUIRE(now.size() == 29);
    REQUIRE_THAT(now, Catch::EndsWith(" GMT"));
}

TEST_CASE("with --worker-id-header a response names its worker, without it there is no such header", "[worker][http_response]") {
    const std::string id = "3-7";
    WireOptions named;
    named.worker_id = &id;
    std::string wire;
    serialize(text_response(200, "ok"), named, "d", wire);
    REQUIRE_THAT(wire, Catch::Contains("\r\nX-Clusterd-Worker: 3-7\r\n"));
    std::string plain;
    serialize(text_response(200, "ok"), WireOptions{}, "d", plain);
    REQUIRE_THAT(plain, !Catch::Contains("X-Clusterd-Worker"));
    const std::string none;
    WireOptions empty;
    empty.worker_id = &none;
    std::string unnamed;
    serialize(text_response(200, "ok"), empty, "d", unnamed);
    REQUIRE_THAT(unnamed, !Catch::Contains("X-Clusterd-Worker"));
}
