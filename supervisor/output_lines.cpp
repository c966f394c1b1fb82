#include "supervisor/output_lines.hpp"

#include <utility>

namespace clusterd::supervisor {

OutputLines::OutputLines(std::size_t max_line, LineSink sink) : max_line_(max_line), sink_(std::move(sink)) {}

void OutputLines::emit(bool cut) {
    if (!pending_.empty() && pending_.back() == '\r') pending_.pop_back();
    sink_(pending_, cut);
    pending_.clear();
}

void OutputLines::feed(std::string_view bytes) {
    while (!bytes.empty()) {
        const auto newline = bytes.find('\n');
        const std::string_view piece = bytes.substr(0, newline);
        bytes = newline == std::string_view::npos ? std::string_view{} : bytes.substr(newline + 1);
        if (discarding_) {
            dropped_ += piece.size();
        } else {
            const std::size_t room = max_line_ - pending_.size();
            pending_.append(piece.substr(0, room));
            if (piece.size() > room) {
                dropped_ += piece.size() - room;
                ++cut_lines_;
                emit(true);  // now, not at its newline: a line that never ends is still seen
                discarding_ = true;
            }
        }
        if (newline == std::string_view::npos) return;
        if (discarding_) {
            discarding_ = false;
        } else {
            emit(false);
        }
    }
}

void OutputLines::finish() {
    if (!discarding_ && !pending_.empty()) emit(false);
    discarding_ = false;
}

}  // namespace clusterd::supervisor
