#include "apps/clusterd/query_number.hpp"

#include <charconv>

namespace stock {
namespace {

std::string rule(std::string_view name, std::uint64_t min, std::uint64_t max) {
    return std::string(name) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

}  // namespace

std::variant<std::uint64_t, std::string> parse_number(std::string_view text, std::string_view name, std::uint64_t min,
                                                      std::uint64_t max) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < min || value > max) {
        return rule(name, min, max) + ", not '" + std::string(text.substr(0, 32)) + "'";
    }
    return value;
}

std::variant<std::uint64_t, std::string> query_number(const clusterd::Request& request, std::string_view name,
                                                      std::uint64_t min, std::uint64_t max,
                                                      std::optional<std::uint64_t> fallback) {
    const auto text = request.query(name);
    if (!text) {
        if (fallback) return *fallback;
        return rule(name, min, max) + " (missing)";
    }
    return parse_number(*text, name, min, max);
}

}  // namespace stock
