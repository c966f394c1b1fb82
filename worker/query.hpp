// The request target split into path and query, and typed query parameters
// with the error sentence a client gets back in a 400.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace clusterd::worker {

struct Target {
    std::string path;   // percent-decoded; an absolute-form target is reduced to its path
    std::string query;  // raw, without '?'
};

// Empty on a target that is neither origin-form ("/x?y") nor absolute-form.
[[nodiscard]] std::optional<Target> split_target(std::string_view target);

// The raw (still percent-encoded) value of the first name=value pair; empty
// when absent, "" for a bare "name". Lets a caller tell a missing parameter
// from a broken escape.
[[nodiscard]] std::optional<std::string_view> query_raw_param(std::string_view query, std::string_view name);

// The decoded value of the first name=value pair; empty when absent or when
// its escapes are broken.
[[nodiscard]] std::optional<std::string> query_param(std::string_view query, std::string_view name);

// An integer parameter in [min, max]; a missing one takes fallback if given.
// On error: "n must be an integer from 0 to 45".
[[nodiscard]] std::variant<std::uint64_t, std::string> query_uint(std::string_view query, std::string_view name,
                                                                  std::uint64_t min, std::uint64_t max,
                                                                  std::optional<std::uint64_t> fallback = {});

// "%2F" → "/", "+" stays "+"; empty on a broken escape.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view text);

}  // namespace clusterd::worker
