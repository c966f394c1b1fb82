#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "worker/http_request_reader.hpp"

using namespace clusterd::worker;
using Kind = ReadResult::Kind;

namespace {

constexpr std::uint64_t header_limit = 8192;
constexpr std::uint64_t body_limit = 1024;

// Feeds the bytes one at a time, as the slowest client would, and collects
// every result that is not need_more.
std::vector<ReadResult> feed_byte_by_byte(const std::string& wire) {
    RequestReader reader(header_limit, body_limit);
    std::string input;
    std::vector<ReadResult> results;
    for (char c : wire) {
        input += c;
        for (;;) {
            ReadResult result = reader.read(input);
            if (result.kind == Kind::need_more) break;
            results.push_back(std::move(result));
            if (results.back().kind == Kind::error) return results;
        }
    }
    return results;
}

ReadResult feed_whole(const std::string& wire, std::uint64_t body = body_limit) {
    RequestReader reader(header_limit, body);
    std::string input = wire;
    return reader.read(input);
}

}  // namespace

TEST_CASE("a request fed byte by byte parses the same as one fed whole", "[worker][http_request_reader]") {
    const std::string wire = "POST /compute/fib?n=3 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    auto results = feed_byte_by_byte(wire);
    REQUIRE(results.size() == 1);
    REQUIRE(results[0].kind == Kind::request);
    REQUIRE(results[0].request.method == "POST");
    REQUIRE(results[0].request.target == "/compute/fib?n=3");
    REQUIRE(results[0].request.body == "hello");
    REQUIRE(results[0].request.keep_alive);
    REQUIRE(feed_whole(wire).request.body == "hello");
}

TEST_CASE("pipelined requests come out one by one, in order", "[worker][http_request_reader]") {
    const std::string wire =
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        "GET /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    SECTION("byte by byte") {
        auto results = feed_byte_by_byte(wire);
        REQUIRE(results.size() == 3);
        REQUIRE(results[0].request.target == "/a");
        REQUIRE(results[1].request.body == "hi");
        REQUIRE(results[2].request.body == "abc");
    }
    SECTION("all at once, the rest stays in the input") {
        RequestReader reader(header_limit, body_limit);
        std::string input = wire;
        REQUIRE(reader.read(input).request.target == "/a");
        REQUIRE(reader.read(input).request.target == "/b");
        REQUIRE(reader.read(input).request.target == "/c");
        REQUIRE(input.empty());
        REQUIRE(reader.read(input).kind == Kind::need_more);
    }
}

TEST_CASE("keep-alive follows the version and the Connection header", "[worker][http_request_reader]") {
    REQUIRE(feed_whole("GET / HTTP/1.1\r\nHost: x\r\n\r\n").request.keep_alive);
    REQUIRE_FALSE(feed_whole("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").request.keep_alive);
    REQUIRE_FALSE(feed_whole("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
    auto kept = feed_whole("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    REQUIRE(kept.request.keep_alive);
    REQUIRE(kept.request.version == 10);
}

TEST_CASE("each broken request maps to its status", "[worker][http_request_reader]") {
    using Case = std::pair<std::string, unsigned>;
    auto [wire, status] = GENERATE(values<Case>({
        {"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n", 431},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 413},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n\r\n", 400},
        {"GARBAGE\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHo st: x\r\n\r\n", 400},
    }));
    CAPTURE(wire.substr(0, 80));
    auto whole = feed_whole(wire);
    REQUIRE(whole.kind == Kind::error);
    REQUIRE(whole.status == status);
    auto slow = feed_byte_by_byte(wire);
    REQUIRE_FALSE(slow.empty());
    REQUIRE(slow.back().kind == Kind::error);
    REQUIRE(slow.back().status == status);
}

TEST_CASE("a chunked body over the limit is refused while it streams", "[worker][http_request_reader]") {
    std::string wire = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 20; ++i) wire += "64\r\n" + std::string(100, 'x') + "\r\n";
    auto result = feed_whole(wire);
    REQUIRE(result.kind == Kind::error);
    REQUIRE(result.status == 413);
}

TEST_CASE("Expect: 100-continue is reported once, before the body", "[worker][http_request_reader]") {
    RequestReader reader(header_limit, body_limit);
    std::string input = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
    REQUIRE(reader.read(input).kind == Kind::need_more);
    REQUIRE(reader.take_continue_request());
    REQUIRE_FALSE(reader.take_continue_request());
    input = "abc";
    REQUIRE(reader.read(input).request.body == "abc");
}

// Found by tests/fuzz (http_request): Beast refused a bare-LF head at once
// when it came in one piece, but waited for a CRLFCRLF that never comes when
// it trickled in, so the slow client got a 408 or 431 much later instead.
TEST_CASE("a bare LF line ending is refused with 400 however the head arrives", "[worker][http_request_reader]") {
    const std::string wire = GENERATE(as<std::string>{}, "GET / HTTP/1.1\nHost: x\n\n", "GET / HTTP/1.1\r\nHost: x\n\n",
                                      "GET / HTTP/1.1\r\nHost: x\r\nX-Fold: a\nb\r\n\r\n");
    CAPTURE(wire);
    auto whole = feed_whole(wire);
    CHECK(whole.kind == Kind::error);
    CHECK(whole.status == 400);
    auto slow = feed_byte_by_byte(wire);
    REQUIRE_FALSE(slow.empty());
    CHECK(slow.back().kind == Kind::error);
    CHECK(slow.back().status == 400);
}

// Found by tests/fuzz (http_request): in one piece, Beast held the request
// line and the fields to the limit separately, so a head of up to twice
// --max-header-size got through; trickled in, the whole head was held to it.
TEST_CASE("the header limit is the whole head's, however it arrives", "[worker][http_request_reader]") {
    // 16 bytes of request line + fields: over the limit only together.
    const std::string line = "GET / HTTP/1.1\r\n";
    const std::string fields = "Host: x\r\nX-Pad: " + std::string(header_limit - line.size() - 8, 'a') + "\r\n\r\n";
    const std::string wire = line + fields;
    REQUIRE(wire.size() > header_limit);
    REQUIRE(fields.size() < header_limit);
    auto whole = feed_whole(wire);
    CHECK(whole.kind == Kind::error);
    CHECK(whole.status == 431);
    auto slow = feed_byte_by_byte(wire);
    REQUIRE_FALSE(slow.empty());
    CHECK(slow.back().status == 431);

    const std::string fits = line + "Host: x\r\nX-Pad: " + std::string(header_limit - line.size() - 9 - 7 - 4, 'a') + "\r\n\r\n";
    REQUIRE(fits.size() == header_limit);
    CHECK(feed_whole(fits).kind == Kind::request);
}

TEST_CASE("two Host lines or an invalid Host value are a 400, as RFC 9112 says a server must answer",
          "[worker][reader]") {
    SECTION("two Host lines, even with the same value") {
        const auto result = feed_whole("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n");
        REQUIRE(result.kind == Kind::error);
        CHECK(result.status == 400);
        CHECK(result.reason == "malformed request: more than one Host field");
    }
    SECTION("two Host lines in HTTP/1.0 too") {
        CHECK(feed_whole("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n").status == 400);
    }
    SECTION("an invalid value") {
        const auto result = feed_whole("GET / HTTP/1.1\r\nHost: a b@c\r\n\r\n");
        REQUIRE(result.kind == Kind::error);
        CHECK(result.status == 400);
        CHECK(result.reason == "malformed request: invalid Host value");
    }
    SECTION("one valid Host, or an empty one, is accepted") {
        CHECK(feed_whole("GET / HTTP/1.1\r\nHost: example.com:80\r\n\r\n").kind == Kind::request);
        CHECK(feed_whole("GET / HTTP/1.1\r\nHost:\r\n\r\n").kind == Kind::request);
    }
}

namespace {

// A policy like the router's: /upload takes 8 bytes, /plain none, /missing
// is no route at all.
BodyAllowance test_policy(std::string_view, std::string_view target) {
    if (target == "/upload") return {8, true};
    if (target == "/plain") return {0, true};
    return {0, false};
}

ReadResult feed_with_policy(std::string wire) {
    RequestReader reader(header_limit, body_limit, test_policy);
    return reader.read(wire);
}

}  // namespace

TEST_CASE("a route's own body limit refuses from the head, before any body arrives", "[worker][http_request_reader]") {
    // No body bytes follow the heads: the answer must not wait for them.
    auto none = feed_with_policy("GET /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n");
    REQUIRE(none.kind == ReadResult::Kind::error);
    CHECK(none.status == 413);
    CHECK(none.reason == "this route takes no request body");
    auto chunked = feed_with_policy("GET /plain HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    REQUIRE(chunked.kind == ReadResult::Kind::error);
    CHECK(chunked.status == 413);
    auto over = feed_with_policy("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n");
    REQUIRE(over.kind == ReadResult::Kind::error);
    CHECK(over.status == 413);
    CHECK(over.reason == "request body over this route's limit of 8 bytes");
}

TEST_CASE("a body within the route's limit is read, a streamed one over it is refused", "[worker][http_request_reader]") {
    auto fits = feed_with_policy("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n12345678");
    REQUIRE(fits.kind == ReadResult::Kind::request);
    CHECK(fits.request.body == "12345678");
    CHECK_FALSE(fits.request.body_refused);
    auto empty = feed_with_policy("GET /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    CHECK(empty.kind == ReadResult::Kind::request);
    auto streamed = feed_with_policy("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n");
    REQUIRE(streamed.kind == ReadResult::Kind::error);
    CHECK(streamed.status == 413);
}

TEST_CASE("a body for a head no route serves is left unread and the request closes the connection",
          "[worker][http_request_reader]") {
    std::string input = "POST /missing HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nGET /";
    RequestReader reader(header_limit, body_limit, test_policy);
    auto result = reader.read(input);
    REQUIRE(result.kind == ReadResult::Kind::request);
    CHECK(result.request.target == "/missing");
    CHECK(result.request.body_refused);
    CHECK_FALSE(result.request.keep_alive);
    CHECK(result.request.body.empty());
}
