// The glue between a connection's input bytes and Boost.Beast's HTTP/1.1
// request parser. Beast does the parsing; this file decides what each of its
// outcomes means for the connection, in one place:
//
//   header too large                         → 431, close
//   body too large (declared or streamed)    → 413, close
//   a body for a route that takes less       → 413, close, before reading it
//   a body for a head no route serves        → the request without its body,
//                                              answered as routed (404, 405), close
//   Content-Length with Transfer-Encoding    → 400, close (request smuggling)
//   HTTP/1.1 without Host                    → 400, close
//   more than one Host, or an invalid one    → 400, close (RFC 9112 §3.2)
//   any other syntax or framing error        → 400, close
//   a version above 1.1 in the request line  → 505, close
//
// One reader serves a whole connection: after a request is returned, the next
// call starts parsing the next one (pipelining).
#pragma once

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace clusterd::worker {

struct Request {
    std::string method;
    std::string target;
    unsigned version = 11;  // 10 or 11
    bool keep_alive = true;
    std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
    std::string body;
    bool body_refused = false;  // it had a body no route takes: not read, keep_alive is false
    [[nodiscard]] bool is_head() const { return method == "HEAD"; }
};

// What body a request head may bring (router.hpp decides it).
struct BodyAllowance {
    std::uint64_t limit = 0;     // bytes
    bool route_serves = false;   // false: a 404 or 405, answered as such whatever the body
};
using BodyPolicy = std::function<BodyAllowance(std::string_view method, std::string_view target)>;

struct ReadResult {
    enum class Kind { need_more, request, error };
    Kind kind = Kind::need_more;
    Request request;       // Kind::request
    unsigned status = 0;   // Kind::error: the status to answer with
    std::string reason;    // Kind::error: one line for the body and the debug log
};

class RequestReader {
public:
    // body_limit caps every body; policy, when set, lowers it per request head.
    RequestReader(std::uint64_t header_limit, std::uint64_t body_limit, BodyPolicy policy = {});

    // Parses from the front of input and erases what was consumed. Returns a
    // request as soon as one is whole; bytes after it stay in input.
    [[nodiscard]] ReadResult read(std::string& input);

    // True once, when the head of the current request asked for
    // "Expect: 100-continue" and its body has not arrived yet.
    [[nodiscard]] bool take_continue_request();

    // True while a request has started but is not whole.
    [[nodiscard]] bool in_request() const { return parser_.has_value() && parser_->got_some(); }

private:
    using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

    [[nodiscard]] std::optional<ReadResult> check_head();
    [[nodiscard]] std::optional<ReadResult> check_body_allowance();
    [[nodiscard]] ReadResult take_request();
    void start_request();

    std::uint64_t header_limit_;
    std::uint64_t body_limit_;
    BodyPolicy policy_;
    std::optional<Parser> parser_;
    bool head_checked_ = false;
    bool continue_pending_ = false;
    std::size_t head_scanned_ = 0;  // bytes of the unparsed head already checked for a bare LF
    std::uint64_t head_bytes_ = 0;  // bytes of the current head Beast has consumed
};

}  // namespace clusterd::worker
