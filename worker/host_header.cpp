#include "worker/host_header.hpp"

#include <algorithm>
#include <cctype>

namespace clusterd::worker {

namespace {

[[nodiscard]] bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

[[nodiscard]] bool is_unreserved_or_sub_delim(char c) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) return true;
    constexpr std::string_view allowed = "-._~!$&'()*+,;=";
    return allowed.find(c) != std::string_view::npos;
}

// reg-name = *( unreserved / pct-encoded / sub-delims ); an IPv4 address is one too.
[[nodiscard]] bool is_reg_name(std::string_view name) {
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '%') {
            if (i + 2 >= name.size() || !is_hex(name[i + 1]) || !is_hex(name[i + 2])) return false;
            i += 2;
        } else if (!is_unreserved_or_sub_delim(name[i])) {
            return false;
        }
    }
    return true;
}

// IP-literal = "[" ( IPv6address / IPvFuture ) "]", with an RFC 6874 zone
// ("%25eth0") allowed: checked for its alphabet, not parsed; the server does
// not route by it and only needs it unambiguous.
[[nodiscard]] bool is_ip_literal(std::string_view literal) {
    if (literal.size() < 3 || literal.front() != '[' || literal.back() != ']') return false;
    const std::string_view inside = literal.substr(1, literal.size() - 2);
    return std::all_of(inside.begin(), inside.end(),
                       [](char c) { return c == ':' || c == '%' || is_unreserved_or_sub_delim(c); });
}

[[nodiscard]] bool is_port(std::string_view port) {
    return port.size() <= 5 &&
           std::all_of(port.begin(), port.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

bool is_valid_host(std::string_view value) {
    if (value.empty()) return true;
    std::string_view host = value;
    if (host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string_view::npos) return false;
        const std::string_view rest = host.substr(close + 1);
        if (!rest.empty() && (rest.front() != ':' || !is_port(rest.substr(1)))) return false;
        return is_ip_literal(host.substr(0, close + 1));
    }
    const auto colon = host.rfind(':');
    if (colon != std::string_view::npos) {
        if (!is_port(host.substr(colon + 1))) return false;
        host = host.substr(0, colon);
    }
    return !host.empty() && is_reg_name(host);
}

}  // namespace clusterd::worker
