#include "worker/http_request_reader.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include "worker/host_header.hpp"

namespace clusterd::worker {
namespace http = boost::beast::http;

namespace {

ReadResult failure(unsigned status, std::string reason) {
    ReadResult result;
    result.kind = ReadResult::Kind::error;
    result.status = status;
    result.reason = std::move(reason);
    return result;
}

// Beast accepts only HTTP/1.x and calls anything else a bad version; a
// well-formed "HTTP/2.0" deserves 505 rather than 400.
bool names_newer_version(std::string_view input) {
    const auto line = input.substr(0, input.find("\r\n"));
    if (line.size() < 8) return false;
    const auto version = line.substr(line.size() - 8);
    return version.starts_with("HTTP/") && version[5] >= '2' && version[5] <= '9' && version[6] == '.' &&
           version[7] >= '0' && version[7] <= '9';
}

ReadResult failure_from(const boost::system::error_code& ec, std::string_view input) {
    if (ec == http::error::bad_version && names_newer_version(input)) {
        return failure(505, "HTTP version not supported");
    }
    if (ec == http::error::header_limit) return failure(431, "request header fields too large");
    if (ec == http::error::body_limit) return failure(413, "request body too large");
    return failure(400, "malformed request: " + ec.message());
}

bool iequals(boost::beast::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

// Beast parses a request head only once "\r\n\r\n" has arrived, except on
// the first put(), which tries the request line at once. So a head with a
// bare LF line ending is refused (400) when it arrives in one piece, but
// when it trickles in, Beast waits for a CRLFCRLF that never comes and the
// client gets a 408 or 431 much later. Checking the unparsed head for a bare
// LF ourselves gives the same 400 whatever the pieces. `from` skips what
// earlier calls already checked; a LF at `from` needs the byte before it.
bool has_bare_lf(std::string_view head, std::size_t from) {
    for (std::size_t i = head.find('\n', from); i != std::string_view::npos; i = head.find('\n', i + 1)) {
        if (i == 0 || head[i - 1] != '\r') return true;
    }
    return false;
}

}  // namespace

RequestReader::RequestReader(std::uint64_t header_limit, std::uint64_t body_limit, BodyPolicy policy)
    : header_limit_(header_limit), body_limit_(body_limit), policy_(std::move(policy)) {}

void RequestReader::start_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::uint64_t>(header_limit_, UINT32_MAX)));
    parser_->body_limit(body_limit_);
    // Stop after the head so check_head can refuse it before any body is read.
    parser_->eager(false);
    head_checked_ = false;
    continue_pending_ = false;
    head_scanned_ = 0;
    head_bytes_ = 0;
}

std::optional<ReadResult> RequestReader::check_head() {
    const auto& head = parser_->get();
    if (head.version() > 11) return failure(505, "HTTP version not supported");
    if (head.version() < 10) return failure(400, "malformed request: unsupported HTTP version");
    if (head.count(http::field::content_length) > 0 && head.count(http::field::transfer_encoding) > 0) {
        return failure(400, "malformed request: Content-Length together with Transfer-Encoding");
    }
    if (head.count(http::field::transfer_encoding) > 0 && !parser_->chunked()) {
        return failure(400, "malformed request: Transfer-Encoding must end with chunked");
    }
    if (head.version() == 11 && head.count(http::field::host) == 0) {
        return failure(400, "malformed request: HTTP/1.1 request without Host");
    }
    if (head.count(http::field::host) > 1) return failure(400, "malformed request: more than one Host field");
    if (auto host = head.find(http::field::host); host != head.end() && !is_valid_host({host->value().data(), host->value().size()})) {
        return failure(400, "malformed request: invalid Host value");
    }
    if (auto refused = check_body_allowance()) return refused;
    auto expect = head.find(http::field::expect);
    continue_pending_ = expect != head.end() && iequals(expect->value(), "100-continue") && !parser_->is_done();
    return std::nullopt;
}

// Beast has already held a declared length to body_limit_; the route's own
// limit is checked here, from the head, so a body is refused before any of
// it is read. A chunked body's size is unknown until it arrives: Beast
// counts it down against the lowered limit as the chunks come.
std::optional<ReadResult> RequestReader::check_body_allowance() {
    if (!policy_) return std::nullopt;
    const auto& head = parser_->get();
    const BodyAllowance allowance = policy_({head.method_string().data(), head.method_string().size()},
                                            {head.target().data(), head.target().size()});
    const auto declared = parser_->content_length();
    const bool over = parser_->chunked() ? allowance.limit == 0 : declared.value_or(0) > allowance.limit;
    if (!over) {
        parser_->body_limit(allowance.limit);
        return std::nullopt;
    }
    if (!allowance.route_serves) {
        ReadResult unread = take_request();
        unread.request.body_refused = true;
        unread.request.keep_alive = false;
        return unread;
    }
    if (allowance.limit == 0) return failure(413, "this route takes no request body");
    return failure(413, "request body over this route's limit of " + std::to_string(allowance.limit) + " bytes");
}

ReadResult RequestReader::take_request() {
    auto message = parser_->release();
    ReadResult result;
    result.kind = ReadResult::Kind::request;
    result.request.method = std::string(message.method_string());
    result.request.target = std::string(message.target());
    result.request.version = message.version();
    result.request.keep_alive = message.keep_alive();
    for (const auto& field : message) {
        result.request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    result.request.body = std::move(message.body());
    return result;
}

ReadResult RequestReader::read(std::string& input) {
    if (!parser_) start_request();
    while (!input.empty()) {
        boost::system::error_code ec;
        const std::size_t used = parser_->put(boost::asio::buffer(input.data(), input.size()), ec);
        input.erase(0, used);
        if (!head_checked_) head_bytes_ += used;
        if (ec == http::error::need_more) {
            // Until the head is whole, input holds all of it that Beast has
            // not consumed (at most the request line, on the first put).
            if (!parser_->is_header_done()) {
                // Not whole yet at the limit: whole, it will be over it.
                if (head_bytes_ + input.size() >= header_limit_) {
                    parser_.reset();
                    return failure(431, "request header fields too large");
                }
                if (used > 0) head_scanned_ = 0;
                if (has_bare_lf(input, head_scanned_)) {
                    parser_.reset();
                    return failure(400, "malformed request: bare LF line ending");
                }
                head_scanned_ = input.size();
            }
            break;
        }
        if (ec) {
            parser_.reset();
            return failure_from(ec, input);
        }
        if (parser_->is_header_done() && !head_checked_) {
            head_checked_ = true;
            // Beast applies header_limit to the request line and to the
            // fields separately when the head arrives in one piece (and to
            // the whole head when it trickles in): up to twice the limit got
            // through. Found by tests/fuzz; the limit is the whole head's.
            if (head_bytes_ > header_limit_) {
                parser_.reset();
                return failure(431, "request header fields too large");
            }
            if (auto refused = check_head()) {
                parser_.reset();
                return *refused;
            }
            parser_->eager(true);
        }
        if (parser_->is_done()) {
            ReadResult result = take_request();
            parser_.reset();
            return result;
        }
        if (used == 0) break;
    }
    return {};
}

bool RequestReader::take_continue_request() {
    if (!continue_pending_) return false;
    continue_pending_ = false;
    return true;
}

}  // namespace clusterd::worker
