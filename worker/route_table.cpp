#include "worker/route_table.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace clusterd::worker {
namespace {

constexpr std::array<std::pair<Method, std::string_view>, 6> method_names{{
    {Method::get, "GET"},
    {Method::head, "HEAD"},
    {Method::post, "POST"},
    {Method::put, "PUT"},
    {Method::patch, "PATCH"},
    {Method::del, "DELETE"},
}};

// "/a/b/" → "a", "b", ""; "/" → "". The leading '/' is checked by the caller.
std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    std::size_t start = 1;
    for (;;) {
        const std::size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) {
            parts.push_back(path.substr(start));
            return parts;
        }
        parts.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
}

}  // namespace

std::optional<Method> method_from_string(std::string_view text) {
    for (const auto& [method, name] : method_names) {
        if (name == text) return method;
    }
    return std::nullopt;
}

std::size_t RouteTable::add(Method method, std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/') {
        throw std::invalid_argument("route '" + std::string(pattern) + "' must start with '/'");
    }
    Route route{method, std::string(pattern), {}, 0};
    for (std::string_view part : split_path(pattern)) {
        if (part.starts_with('{') || part.ends_with('}') || part.find_first_of("{}") != std::string_view::npos) {
            if (part.size() < 3 || !part.starts_with('{') || !part.ends_with('}') ||
                part.substr(1, part.size() - 2).find_first_of("{}/") != std::string_view::npos) {
                throw std::invalid_argument("route '" + std::string(pattern) + "': '" + std::string(part) +
                                            "' is not a {name} segment");
            }
            const std::string name(part.substr(1, part.size() - 2));
            for (const auto& segment : route.segments) {
                if (segment.parameter && segment.text == name) {
                    throw std::invalid_argument("route '" + std::string(pattern) + "' names {" + name + "} twice");
                }
            }
            route.segments.push_back({name, true});
            ++route.parameters;
        } else {
            route.segments.push_back({std::string(part), false});
        }
    }
    for (const auto& existing : routes_) {
        if (existing.method != method || existing.segments.size() != route.segments.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < route.segments.size() && same; ++i) {
            const auto& a = existing.segments[i];
            const auto& b = route.segments[i];
            same = a.parameter == b.parameter && (a.parameter || a.text == b.text);
        }
        if (same) {
            throw std::invalid_argument("route " + std::string(to_string(method)) + " " + std::string(pattern) +
                                        " is declared twice (as " + existing.pattern + ")");
        }
    }
    routes_.push_back(std::move(route));
    return routes_.size() - 1;
}

RouteLookup RouteTable::find(std::string_view method_text, std::string_view path) const {
    if (path.empty() || path.front() != '/') return NoRoute{};
    const auto parts = split_path(path);
    auto method = method_from_string(method_text);
    if (method == Method::head) method = Method::get;
    const Route* best = nullptr;
    std::size_t best_index = 0;
    std::array<bool, method_names.size()> allowed{};
    bool path_known = false;
    for (std::size_t index = 0; index < routes_.size(); ++index) {
        const Route& route = routes_[index];
        if (route.segments.size() != parts.size()) continue;
        bool matches = true;
        for (std::size_t i = 0; i < parts.size() && matches; ++i) {
            matches = route.segments[i].parameter ? !parts[i].empty() : route.segments[i].text == parts[i];
        }
        if (!matches) continue;
        path_known = true;
        allowed[static_cast<std::size_t>(route.method)] = true;
        if (route.method != method) continue;
        if (best == nullptr || route.parameters < best->parameters) {
            best = &route;
            best_index = index;
        }
    }
    if (best != nullptr) {
        RouteMatch match{best_index, {}};
        for (std::size_t i = 0; i < parts.size(); ++i) {
            if (best->segments[i].parameter) match.params.emplace_back(best->segments[i].text, std::string(parts[i]));
        }
        return match;
    }
    if (!path_known) return NoRoute{};
    if (allowed[static_cast<std::size_t>(Method::get)]) allowed[static_cast<std::size_t>(Method::head)] = true;
    std::string allow;
    for (const auto& [m, name] : method_names) {
        if (!allowed[static_cast<std::size_t>(m)]) continue;
        if (!allow.empty()) allow += ", ";
        allow += name;
    }
    return MethodNotAllowed{allow};
}

}  // namespace clusterd::worker
