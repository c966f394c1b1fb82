// The PBKDF2 call into libcrypto, and the hex spelling of its key.
#include "apps/clusterd/hash.hpp"

#include <openssl/evp.h>

namespace stock {

std::optional<Pbkdf2Key> pbkdf2_sha256(std::string_view data, std::string_view salt, std::uint32_t rounds) {
    Pbkdf2Key key{};
    // libcrypto takes int lengths and counts; callers bound all three far
    // below INT_MAX (64 bytes of data, 5 million rounds).
    const int ok = PKCS5_PBKDF2_HMAC(data.data(), static_cast<int>(data.size()),
                                     reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                                     static_cast<int>(rounds), EVP_sha256(), static_cast<int>(key.size()), key.data());
    if (ok != 1) return std::nullopt;
    return key;
}

std::string lowercase_hex(std::span<const std::uint8_t> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const auto byte : bytes) {
        out += digits[byte >> 4];
        out += digits[byte & 0x0F];
    }
    return out;
}

}  // namespace stock
