// The HTTP request path as a worker runs it, minus the socket: bytes →
// RequestReader (pipelined, in whatever pieces the kernel hands over) →
// route() → serialize(). Shared by the libFuzzer target and by the unit test
// that replays the corpus with g++, so every input that ever crashed stays a
// regression test.
//
// Beyond "no crash, no hang, no out-of-bounds read" (the sanitizers' job), it
// checks what a client relies on:
//   - the pieces do not matter: one read, byte-at-a-time reads and reads cut
//     at input-derived points give the same requests and the same refusal;
//   - a refusal carries 400, 413, 431 or 505; a route answers with a status
//     we have a reason phrase for;
//   - every response we put on the wire parses back as exactly one HTTP/1.1
//     response with the body we meant (no header injection from request bytes);
//   - a job has a known kind and its data fits.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "clusterd/app.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "worker/http_request_reader.hpp"
#include "worker/http_response.hpp"
#include "worker/router.hpp"

namespace clusterd::fuzz {

using worker::ReadResult;

struct ReadOutcome {
    ReadResult::Kind kind;
    std::string method, target, body;
    unsigned version = 0;
    bool keep_alive = false;
    unsigned status = 0;
    bool operator==(const ReadOutcome&) const = default;
};

inline ReadOutcome outcome_of(const ReadResult& result) {
    return {result.kind,          result.request.method,     result.request.target, result.request.body,
            result.request.version, result.request.keep_alive, result.status};
}

// Feeds `wire` in pieces whose sizes come from next_piece(offset), and collects
// every request up to (and including) the first refusal, as Connection does.
template <typename NextPiece>
std::vector<ReadOutcome> read_all(std::string_view wire, std::uint64_t header_limit, std::uint64_t body_limit,
                                  NextPiece next_piece) {
    worker::RequestReader reader(header_limit, body_limit);
    std::string input;
    std::vector<ReadOutcome> outcomes;
    std::size_t offset = 0;
    while (offset < wire.size()) {
        const std::size_t piece = std::min(wire.size() - offset, std::max<std::size_t>(1, next_piece(offset)));
        input.append(wire.substr(offset, piece));
        offset += piece;
        // Bounded: every request consumes at least its request line.
        for (std::size_t guard = 0; guard <= wire.size() + 1; ++guard) {
            const std::size_t before = input.size();
            ReadResult result = reader.read(input);
            FUZZ_CHECK(input.size() <= before, "read() grew its input");
            (void)reader.take_continue_request();
            if (result.kind == ReadResult::Kind::need_more) break;
            outcomes.push_back(outcome_of(result));
            if (result.kind == ReadResult::Kind::error) return outcomes;
            FUZZ_CHECK(guard < wire.size() + 1, "read() returned requests without consuming input");
        }
    }
    return outcomes;
}

// The same requests, and a refusal at the same place. Two allowances, both
// from Beast parsing a head only once "\r\n\r\n" has arrived (except on the
// first put, which tries the request line at once):
//   - which refusal may differ: a head that is both too long and malformed
//     is refused 431 or 400 depending on which Beast notices first;
//   - a malformed head that never ends (a stray CR before the blank line,
//     say) is refused when it arrives in one piece but waits for more when it
//     trickles in; the connection's header timeout answers that one (408).
// What never differs is the sequence of requests accepted: that is what
// request smuggling would exploit.
inline bool same_requests(const std::vector<ReadOutcome>& whole, const std::vector<ReadOutcome>& split) {
    if (split.size() + 1 == whole.size() && whole.back().kind == ReadResult::Kind::error) {
        return same_requests(std::vector<ReadOutcome>(whole.begin(), whole.end() - 1), split);
    }
    if (whole.size() != split.size()) return false;
    for (std::size_t i = 0; i < whole.size(); ++i) {
        if (whole[i].kind != split[i].kind) return false;
        if (whole[i].kind != ReadResult::Kind::error && !(whole[i] == split[i])) return false;
    }
    return true;
}

inline bool is_refusal_status(unsigned status) {
    return status == 400 || status == 413 || status == 431 || status == 505;
}

// The response must parse back as one response with our body, nothing after it.
inline void check_wire(const worker::Response& response, const worker::WireOptions& options) {
    std::string wire;
    worker::serialize(response, options, "Thu, 01 Jan 2026 00:00:00 GMT", wire);
    namespace http = boost::beast::http;
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::uint64_t{1} << 30);
    parser.skip(options.head);
    parser.eager(true);
    boost::system::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(wire.data(), wire.size()), ec);
    FUZZ_CHECK(!ec, "our response does not parse");
    FUZZ_CHECK(parser.is_done(), "our response is incomplete");
    FUZZ_CHECK(used == wire.size(), "bytes after our response (header injection?)");
    const auto& message = parser.get();
    FUZZ_CHECK(message.result_int() == response.status, "status changed on the wire");
    if (!options.head) FUZZ_CHECK(message.body() == response.body, "body changed on the wire");
    FUZZ_CHECK(message.keep_alive() == options.keep_alive, "Connection header disagrees with keep-alive");
}

// A table with exact, parameter and multi-method routes, as an application declares them.
inline const clusterd::App& fuzz_app() {
    static clusterd::App app{"fuzz"};
    static const bool declared = [] {
        const auto ok = [](const clusterd::Request&) { return clusterd::Response::text(200, "ok"); };
        app.get("/", ok).get("/compute/fib", ok).get("/items/{id}", ok).put("/items/{id}", ok);
        app.post("/items/new", ok).del("/a/{b}/c/{d}", ok);
        return true;
    }();
    (void)declared;
    return app;
}

inline void check_routed(const ReadOutcome& request, bool draining) {
    worker::Request parsed;
    parsed.method = request.method;
    parsed.target = request.target;
    parsed.version = request.version;
    parsed.keep_alive = request.keep_alive;
    parsed.body = request.body;
    worker::RouteContext context;
    context.draining = draining;
    context.fault_injection = false;  // /debug/crash would crash on purpose
    context.segment = nullptr;        // /metrics and /status answer 503
    context.app = &fuzz_app().model();
    const worker::RouteResult routed = worker::route(parsed, context);
    if (const auto* app_route = std::get_if<worker::AppRoute>(&routed)) {
        FUZZ_CHECK(app_route->index < context.app->routes.size(), "a route outside the table");
        FUZZ_CHECK(app_route->target.path.starts_with('/'), "an application route for a path without '/'");
        return;
    }
    const auto& response = std::get<worker::Response>(routed);
    FUZZ_CHECK(std::strcmp(worker::reason_phrase(response.status), "Unknown") != 0, "a status without a reason");
    check_wire(response, {parsed.is_head(), parsed.keep_alive && !response.close, parsed.version == 10});
}

inline void run_http_request(const std::uint8_t* data, std::size_t size) {
    const std::string_view wire(reinterpret_cast<const char*>(data), size);
    // A cheap deterministic hash of the input picks the cut points, so the
    // fuzzer explores splits by mutating the bytes themselves.
    std::uint64_t seed = 1469598103934665603ULL;
    for (std::size_t i = 0; i < std::min<std::size_t>(size, 64); ++i) seed = (seed ^ data[i]) * 1099511628211ULL;

    struct Limits {
        std::uint64_t header, body;
    };
    for (const Limits limits : {Limits{8192, 1 << 20}, Limits{96, 16}}) {
        const auto whole = read_all(wire, limits.header, limits.body, [&](std::size_t) { return wire.size(); });
        const auto bytes = read_all(wire, limits.header, limits.body, [](std::size_t) { return std::size_t{1}; });
        std::uint64_t state = seed;
        const auto cut = read_all(wire, limits.header, limits.body, [&](std::size_t) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            return static_cast<std::size_t>(1 + (state >> 33) % 97);
        });
        FUZZ_CHECK(same_requests(whole, bytes), "byte-at-a-time reads parse differently from one read");
        FUZZ_CHECK(same_requests(whole, cut), "reads cut elsewhere parse differently from one read");
        for (const auto& outcome : whole) {
            if (outcome.kind == ReadResult::Kind::error) {
                FUZZ_CHECK(is_refusal_status(outcome.status), "a refusal with an unexpected status");
                continue;
            }
            FUZZ_CHECK(outcome.body.size() <= limits.body, "a body above the limit was accepted");
            FUZZ_CHECK(outcome.version == 10 || outcome.version == 11, "a version other than 1.0 or 1.1");
            check_routed(outcome, (seed & 1) != 0);
        }
    }
}

}  // namespace clusterd::fuzz
