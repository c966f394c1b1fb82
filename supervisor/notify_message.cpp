#include "supervisor/notify_message.hpp"

#include <charconv>
#include <cstdint>

namespace clusterd::supervisor {

namespace {

[[nodiscard]] std::optional<std::uint64_t> whole_number(std::string_view text) {
    std::uint64_t value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, error] = std::from_chars(text.data(), end, value);
    if (text.empty() || error != std::errc() || ptr != end) return std::nullopt;
    return value;
}

// One assignment; false when it is not one clusterd can read.
[[nodiscard]] bool apply(std::string_view name, std::string_view value, NotifyMessage& into) {
    if (name == "READY") {
        into.ready = into.ready || value == "1";
        return value == "1";
    }
    if (name == "WATCHDOG") {
        if (value == "1") into.watchdog = true;
        else if (value == "trigger") into.watchdog_trigger = true;
        else return false;
        return true;
    }
    if (name == "STOPPING") {
        into.stopping = into.stopping || value == "1";
        return value == "1";
    }
    if (name == "RELOADING") {
        into.reloading = into.reloading || value == "1";
        return value == "1";
    }
    if (name == "STATUS") {
        into.status = std::string(value);
        return true;
    }
    if (name == "EXTEND_TIMEOUT_USEC") {
        const auto usec = whole_number(value);
        if (!usec) return false;
        into.extend_start = std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(*usec));
        return true;
    }
    return true;  // an assignment clusterd does not act on
}

}  // namespace

void parse_notify_text(std::string_view text, NotifyMessage& into) {
    while (!text.empty()) {
        const auto end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        const auto equals = line.find('=');
        if (equals == std::string_view::npos || equals == 0 || !apply(line.substr(0, equals), line.substr(equals + 1), into)) {
            ++into.malformed;
        }
    }
}

}  // namespace clusterd::supervisor
