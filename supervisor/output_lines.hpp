// Splits what a program writes to its stdout or stderr pipe into lines for
// the supervisor's log, with a bound: the supervisor reads whatever the pipe
// holds (never blocking, never waiting for a newline), keeps at most
// max_line bytes of an unfinished line, and a line longer than that is
// handed on cut at max_line (marked `cut`) with the rest of it dropped up to
// its newline and counted, so a program that writes a 1 GiB line costs
// max_line bytes of the supervisor's memory, not 1 GiB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace clusterd::supervisor {

class OutputLines {
public:
    // line: one line without its newline; cut: true when it was longer than max_line.
    using LineSink = std::function<void(std::string_view line, bool cut)>;

    OutputLines(std::size_t max_line, LineSink sink);

    // Bytes as read from the pipe, in any split.
    void feed(std::string_view bytes);
    // At EOF (the program exited or closed the pipe): the unfinished line, if any.
    void finish();

    // Bytes dropped from lines that were too long, since the start.
    [[nodiscard]] std::uint64_t dropped_bytes() const { return dropped_; }
    [[nodiscard]] std::uint64_t cut_lines() const { return cut_lines_; }

private:
    void emit(bool cut);

    std::size_t max_line_;
    LineSink sink_;
    std::string pending_;
    bool discarding_ = false;  // past max_line in the current line: drop up to its newline
    std::uint64_t dropped_ = 0;
    std::uint64_t cut_lines_ = 0;
};

}  // namespace clusterd::supervisor
