// What a route handler sees and returns: one HTTP request, one response.
//
// Ownership: a Request is a view of the request clusterd is serving; it and
// every string_view it returns are valid only during the handler's call.
// Copy what an asynchronous reply needs later. A Response is a plain value.
// Threading: a Request is used on the event-loop thread that called the
// handler, and nowhere else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clusterd {

namespace detail {
struct RequestView;  // clusterd's own representation; not part of the API
}

enum class Method { get, head, post, put, patch, del };

// "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE".
[[nodiscard]] std::string_view to_string(Method method);

class Request {
public:
    explicit Request(const detail::RequestView& view) : view_(&view) {}

    [[nodiscard]] Method method() const;
    // The percent-decoded path, e.g. "/items/42".
    [[nodiscard]] std::string_view path() const;
    // The route's pattern that matched, e.g. "/items/{id}" (what metrics count by).
    [[nodiscard]] std::string_view route() const;
    // A {name} segment of the route, decoded; empty when the route has none of that name.
    [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const;
    // The first ?name=value of the query, percent-decoded ('+' stays '+');
    // empty when absent or when its escapes are broken.
    [[nodiscard]] std::optional<std::string> query(std::string_view name) const;
    // The raw query string, without '?'.
    [[nodiscard]] std::string_view raw_query() const;
    // The first header of that name, compared case-insensitively.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
    // The whole body (clusterd reads it completely, up to --max-body-size, before calling a handler).
    [[nodiscard]] std::string_view body() const;

private:
    const detail::RequestView* view_;
};

struct Response {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    // Extra headers. clusterd writes Content-Length, Content-Type, Date and
    // Connection itself; setting those here is refused (the header is dropped).
    std::vector<std::pair<std::string, std::string>> headers;

    // text/plain; a newline is added to a body that does not end with one,
    // as clusterd's own text answers do (curl and terminals show it whole).
    [[nodiscard]] static Response text(unsigned status, std::string body);
    [[nodiscard]] static Response json(unsigned status, std::string body);
};

}  // namespace clusterd
