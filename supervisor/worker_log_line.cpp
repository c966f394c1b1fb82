#include "supervisor/worker_log_line.hpp"

#include <fmt/format.h>

#include "common/log_prefix.hpp"

namespace clusterd::supervisor {

namespace {

[[nodiscard]] bool is_c0_or_del(unsigned char c) { return c < 0x20 || c == 0x7f; }

// U+0080..U+009F encoded in UTF-8: 0xC2 followed by 0x80..0x9F.
[[nodiscard]] bool is_c1_at(std::string_view text, std::size_t i) {
    return static_cast<unsigned char>(text[i]) == 0xc2 && i + 1 < text.size() &&
           static_cast<unsigned char>(text[i + 1]) >= 0x80 && static_cast<unsigned char>(text[i + 1]) <= 0x9f;
}

void append_escaped(std::string& out, unsigned char c) {
    switch (c) {
        case '\n': out += "\\n"; return;
        case '\r': out += "\\r"; return;
        case '\t': out += "\\t"; return;
        default: out += fmt::format("\\x{:02x}", c); return;
    }
}

// "[worker 3 4242]" or "[worker 3 4242 loop 1]": the claim must name this slot and pid exactly.
[[nodiscard]] bool has_true_prefix(std::string_view record, std::string_view noun, unsigned slot, pid_t pid) {
    std::string expected = child_log_prefix(noun, slot, pid);
    expected.pop_back();  // the closing bracket: a loop name may follow inside it
    if (record.substr(0, expected.size()) != expected || record.size() == expected.size()) return false;
    const char next = record[expected.size()];
    return next == ']' || next == ' ';
}

}  // namespace

std::string escape_control_characters(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (is_c0_or_del(c)) {
            append_escaped(out, c);
        } else if (is_c1_at(text, i)) {
            append_escaped(out, c);
            append_escaped(out, static_cast<unsigned char>(text[++i]));
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string attributed_log_line(std::string_view record, std::string_view noun, unsigned slot, pid_t pid) {
    std::string escaped = escape_control_characters(record);
    if (has_true_prefix(record, noun, slot, pid)) return escaped;
    return fmt::format("[slot {} pid {}, unattributed] {}", slot, pid, escaped);
}

}  // namespace clusterd::supervisor
