// Parsing of the human-friendly values our options take: durations ("250ms",
// "10s", "2m") and byte sizes ("8KiB", "1MiB"). Errors come back as a
// sentence naming the bad text, so an option parser can prefix the option.
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace clusterd {

using Millis = std::chrono::milliseconds;

// "250ms", "10s", "1.5s", "2m", or a bare number of seconds. Empty on error.
[[nodiscard]] std::optional<Millis> parse_duration(std::string_view text);

// "512", "8k", "8KiB", "1M", "1MiB" (k and M are binary: 1024, 1024*1024).
[[nodiscard]] std::optional<std::uint64_t> parse_byte_size(std::string_view text);

// A whole decimal number and nothing else ("42"; not "", "4x", " 4", "-1"
// for an unsigned T): environment variables and ids from other programs.
template <typename Number>
[[nodiscard]] std::optional<Number> parse_whole_number(std::string_view text) {
    Number value{};
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// Renders a duration back the way an operator would write it ("250ms", "10s").
[[nodiscard]] std::string format_duration(Millis d);

}  // namespace clusterd
