#include "worker/query.hpp"

#include <charconv>

namespace clusterd::worker {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        const int high = hex_value(text[i + 1]);
        const int low = hex_value(text[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        out += static_cast<char>(high * 16 + low);
        i += 2;
    }
    return out;
}

std::optional<Target> split_target(std::string_view target) {
    if (target.starts_with("http://") || target.starts_with("https://")) {
        auto authority = target.find("://") + 3;
        auto slash = target.find_first_of("/?", authority);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        if (target.front() == '?') return std::nullopt;
    }
    if (target.empty() || target.front() != '/') return std::nullopt;
    const auto question = target.find('?');
    auto path = percent_decode(target.substr(0, question));
    if (!path) return std::nullopt;
    Target out;
    out.path = std::move(*path);
    if (question != std::string_view::npos) out.query = std::string(target.substr(question + 1));
    return out;
}

std::optional<std::string_view> query_raw_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
    const auto raw = query_raw_param(query, name);
    if (!raw) return std::nullopt;
    return percent_decode(*raw);
}

std::variant<std::uint64_t, std::string> query_uint(std::string_view query, std::string_view name, std::uint64_t min,
                                                    std::uint64_t max, std::optional<std::uint64_t> fallback) {
    const std::string rule =
        std::string(name) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
    auto text = query_param(query, name);
    if (!text) {
        if (fallback) return *fallback;
        return rule + " (missing)";
    }
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (text->empty() || ec != std::errc{} || end != text->data() + text->size() || value < min || value > max) {
        return rule + ", not '" + text->substr(0, 32) + "'";
    }
    return value;
}

}  // namespace clusterd::worker
