#include "worker/wire_response.hpp"

#include <spdlog/spdlog.h>

#include <cctype>

namespace clusterd::worker {
namespace {

constexpr std::string_view own_headers[] = {"content-length", "content-type", "date", "connection",
                                            "transfer-encoding"};

bool is_own(std::string_view name) {
    std::string lower(name);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (std::string_view own : own_headers) {
        if (lower == own) return true;
    }
    return false;
}

bool is_safe(std::string_view text) { return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos; }

}  // namespace

Response wire_response(const clusterd::Response& response) {
    Response wire;
    wire.status = response.status;
    if (response.status < 100 || response.status > 599) {
        spdlog::error("a handler answered status {}; sent 500 instead", response.status);
        wire.status = 500;
    }
    wire.content_type = is_safe(response.content_type) ? response.content_type : "application/octet-stream";
    wire.body = response.body;
    for (const auto& [name, value] : response.headers) {
        if (name.empty() || is_own(name) || !is_safe(name) || !is_safe(value) ||
            name.find_first_of(": \t") != std::string::npos) {
            spdlog::warn("a handler's response header '{}' was dropped (clusterd's own, or not a valid header)",
                         name.substr(0, 64));
            continue;
        }
        wire.headers.emplace_back(name, value);
    }
    return wire;
}

}  // namespace clusterd::worker
