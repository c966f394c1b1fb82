#include "common/fork_request.hpp"

#include <algorithm>
#include <cstring>
#include <set>

namespace clusterd::fork_request {

namespace {

// "CDFR": a stray message (or one from another version) is refused, not read.
constexpr std::uint32_t magic = 0x43444652;

void put(std::string& out, std::uint32_t value) {
    char bytes[sizeof value];
    std::memcpy(bytes, &value, sizeof value);
    out.append(bytes, sizeof value);
}

bool take(const std::string& in, std::size_t& at, std::uint32_t& value) {
    if (in.size() - at < sizeof value) return false;
    std::memcpy(&value, in.data() + at, sizeof value);
    at += sizeof value;
    return true;
}

}  // namespace

// Layout: magic, word count, fd count, the targets, then each word as its
// length and its bytes.
std::string encode(const Request& request) {
    std::string out;
    put(out, magic);
    put(out, static_cast<std::uint32_t>(request.words.size()));
    put(out, static_cast<std::uint32_t>(request.targets.size()));
    for (int target : request.targets) put(out, static_cast<std::uint32_t>(target));
    for (const auto& word : request.words) {
        put(out, static_cast<std::uint32_t>(word.size()));
        out += word;
    }
    return out;
}

std::optional<Request> decode(const std::string& bytes, std::size_t fd_count) {
    std::size_t at = 0;
    std::uint32_t value = 0;
    std::uint32_t word_count = 0;
    std::uint32_t target_count = 0;
    if (!take(bytes, at, value) || value != magic) return std::nullopt;
    if (!take(bytes, at, word_count) || !take(bytes, at, target_count)) return std::nullopt;
    if (word_count == 0 || target_count != fd_count || target_count > max_fds) return std::nullopt;
    Request request;
    std::set<int> seen;
    for (std::uint32_t i = 0; i < target_count; ++i) {
        if (!take(bytes, at, value) || value < 3 || value > 1u << 20) return std::nullopt;
        const int target = static_cast<int>(value);
        if (!seen.insert(target).second) return std::nullopt;
        request.targets.push_back(target);
    }
    for (std::uint32_t i = 0; i < word_count; ++i) {
        if (!take(bytes, at, value) || bytes.size() - at < value) return std::nullopt;
        std::string word = bytes.substr(at, value);
        if (word.find('\0') != std::string::npos) return std::nullopt;
        request.words.push_back(std::move(word));
        at += value;
    }
    if (at != bytes.size()) return std::nullopt;
    return request;
}

}  // namespace clusterd::fork_request
