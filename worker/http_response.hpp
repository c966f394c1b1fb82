// A response as routes build it, and its HTTP/1.1 wire form. Serialising is
// ours (a handful of fixed headers); parsing untrusted input is Beast's.
#pragma once

#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "common/units.hpp"

namespace clusterd::worker {

struct Response {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra, e.g. Allow
    bool close = false;  // the connection cannot go on (broken framing)
    Millis delay{0};     // deliver this late (fault injection's slow mode)
};

[[nodiscard]] Response text_response(unsigned status, std::string body);

// "Not Found" for 404; "Unknown" for a status we never send.
[[nodiscard]] const char* reason_phrase(unsigned status);

// The Date header value, formatted once per second (RFC 9110 IMF-fixdate).
class HttpDate {
public:
    [[nodiscard]] const std::string& now();

private:
    std::time_t second_ = 0;
    std::string text_;
};

struct WireOptions {
    bool head = false;        // HEAD: headers with the GET's Content-Length, no body
    bool keep_alive = true;   // false: "Connection: close"
    bool http10 = false;      // a 1.0 client that keeps alive needs "Connection: keep-alive"
    // --worker-id-header: "<slot>-<generation>" of the worker answering, sent
    // as X-Clusterd-Worker; null or empty: no such header.
    const std::string* worker_id = nullptr;
};

inline constexpr const char* worker_id_header_name = "X-Clusterd-Worker";

// Appends the wire form of response to out.
void serialize(const Response& response, const WireOptions& options, const std::string& date, std::string& out);

}  // namespace clusterd::worker
