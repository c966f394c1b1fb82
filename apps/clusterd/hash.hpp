// Key stretching as a job: PBKDF2-HMAC-SHA256 from OpenSSL's libcrypto, the
// kind of CPU work a login endpoint does, with rounds as the dial. The crypto
// itself is never written here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>



namespace stock {

inline constexpr std::uint64_t hash_min_rounds = 1;
// 0.3 to 0.6 us a round on a current x86 core, so the ceiling is 1.5 to 3 s
// of one core, the order of fib(43): long, but not minutes.
inline constexpr std::uint64_t hash_max_rounds = 5'000'000;
// A bare /compute/hash costs 3 to 8 ms, a few times fib(30): a short job
// that still shows up in a profile.
inline constexpr std::uint64_t hash_default_rounds = 10'000;
// The stock route keeps data small: it travels in the query string.
inline constexpr std::size_t hash_max_data_bytes = 64;
inline constexpr std::string_view hash_default_data = "clusterd";
// A fixed salt: the job is a benchmark, not password storage, and a fixed
// salt keeps the digest reproducible from the request alone.
inline constexpr std::string_view hash_salt = "clusterd";

using Pbkdf2Key = std::array<std::uint8_t, 32>;

// The first 32 bytes of PBKDF2-HMAC-SHA256(data, salt, rounds). Empty only if
// libcrypto itself fails (out of memory); rounds must be >= 1.
[[nodiscard]] std::optional<Pbkdf2Key> pbkdf2_sha256(std::string_view data, std::string_view salt,
                                                     std::uint32_t rounds);

// "55ac04..." : two lowercase hex digits per byte.
[[nodiscard]] std::string lowercase_hex(std::span<const std::uint8_t> bytes);

}  // namespace stock
