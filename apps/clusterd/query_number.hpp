// A bounded integer from the query string, with the sentence a 400 carries:
// "n must be an integer from 0 to 45, not '46'" or "... (missing)".
#pragma once

#include <clusterd/http.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace stock {

[[nodiscard]] std::variant<std::uint64_t, std::string> query_number(const clusterd::Request& request,
                                                                     std::string_view name, std::uint64_t min,
                                                                     std::uint64_t max,
                                                                     std::optional<std::uint64_t> fallback = {});

// The same rule applied to text a task received (it may not trust its input).
[[nodiscard]] std::variant<std::uint64_t, std::string> parse_number(std::string_view text, std::string_view name,
                                                                     std::uint64_t min, std::uint64_t max);

}  // namespace stock
