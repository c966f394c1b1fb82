// The application's routes as patterns: "/items/{id}" is three segments, a
// literal, a parameter and nothing else. Matching is by path first, then by
// method, so a known path asked with another method is a 405 that names the
// methods it has (Allow), and only an unknown path is a 404.
//
// Pure: no I/O, no handlers (the AppModel keeps those, by the same index).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "clusterd/http.hpp"

namespace clusterd::worker {

// "GET" → Method::get; empty for a method no route can have.
[[nodiscard]] std::optional<Method> method_from_string(std::string_view text);

struct RouteMatch {
    std::size_t index = 0;  // in declaration order
    std::vector<std::pair<std::string, std::string>> params;  // name → decoded segment
};

struct MethodNotAllowed {
    std::string allow;  // "GET, HEAD, POST"
};

struct NoRoute {};

using RouteLookup = std::variant<RouteMatch, MethodNotAllowed, NoRoute>;

class RouteTable {
public:
    // Adds a route; its index is the number of routes before it. Throws
    // std::invalid_argument for a pattern that does not start with '/', has
    // an empty or unterminated {param}, repeats a parameter name, or is
    // already declared for that method.
    std::size_t add(Method method, std::string_view pattern);

    // HEAD finds a GET route. Among routes matching the path, one with fewer
    // parameters wins ("/items/new" before "/items/{id}"), then the first declared.
    [[nodiscard]] RouteLookup find(std::string_view method, std::string_view path) const;

    [[nodiscard]] std::size_t size() const { return routes_.size(); }
    [[nodiscard]] const std::string& pattern(std::size_t index) const { return routes_[index].pattern; }

private:
    struct Segment {
        std::string text;  // the literal, or the parameter's name
        bool parameter = false;
    };
    struct Route {
        Method method;
        std::string pattern;
        std::vector<Segment> segments;
        std::size_t parameters = 0;
    };

    std::vector<Route> routes_;
};

}  // namespace clusterd::worker
