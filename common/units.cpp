#include "common/units.hpp"

#include <charconv>
#include <cmath>

namespace clusterd {
namespace {

// Splits "1.5s" into 1.5 and "s"; rejects a missing or negative number.
std::optional<std::pair<double, std::string_view>> split_number(std::string_view text) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data() || !std::isfinite(value) || value < 0) {
        return std::nullopt;
    }
    return std::pair{value, text.substr(static_cast<std::size_t>(end - text.data()))};
}

}  // namespace

std::optional<Millis> parse_duration(std::string_view text) {
    auto parsed = split_number(text);
    if (!parsed) return std::nullopt;
    auto [value, unit] = *parsed;
    double ms_per_unit = 0;
    if (unit == "ms") ms_per_unit = 1;
    else if (unit.empty() || unit == "s") ms_per_unit = 1000;
    else if (unit == "m" || unit == "min") ms_per_unit = 60'000;
    else if (unit == "h") ms_per_unit = 3'600'000;
    else return std::nullopt;
    double ms = value * ms_per_unit;
    if (ms > 1e12) return std::nullopt;  // more than 30 years is a typo, not a timeout
    return Millis{static_cast<std::int64_t>(std::llround(ms))};
}

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
    auto parsed = split_number(text);
    if (!parsed) return std::nullopt;
    auto [value, unit] = *parsed;
    double multiplier = 0;
    if (unit.empty() || unit == "B") multiplier = 1;
    else if (unit == "k" || unit == "K" || unit == "KiB" || unit == "kB") multiplier = 1024.0;
    else if (unit == "M" || unit == "MiB" || unit == "MB") multiplier = 1024.0 * 1024.0;
    else if (unit == "G" || unit == "GiB" || unit == "GB") multiplier = 1024.0 * 1024.0 * 1024.0;
    else return std::nullopt;
    double bytes = value * multiplier;
    if (bytes > 1e15 || bytes != std::floor(bytes)) return std::nullopt;
    return static_cast<std::uint64_t>(bytes);
}

std::string format_duration(Millis d) {
    auto ms = d.count();
    if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

}  // namespace clusterd
