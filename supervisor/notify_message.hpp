// One sd_notify message from a program run under clusterd (`clusterd -- CMD`),
// as systemd's sd_notify(3) defines it: newline-separated VARIABLE=value
// assignments in one datagram on NOTIFY_SOCKET, or, for languages without unix
// datagram sockets (Node.js), the same assignments one per line on the stream
// descriptor named by CLUSTERD_NOTIFY_FD.
//
// Only what clusterd acts on is kept; other assignments (MAINPID=, ERRNO=,
// BUSERROR=, FDSTORE=, ...) are valid and ignored, as systemd ignores those it
// does not know. A line without '=' is not an assignment and is counted, so a
// program writing garbage to its notify channel shows in the log once.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace clusterd::supervisor {

struct NotifyMessage {
    bool ready = false;      // READY=1: it serves; readiness-gated start and reload wait for this
    bool watchdog = false;   // WATCHDOG=1: a liveness ping (its heartbeat)
    bool stopping = false;   // STOPPING=1: it is shutting down on its own
    bool reloading = false;  // RELOADING=1: accepted and shown, clusterd does not wait on it
    bool watchdog_trigger = false;  // WATCHDOG=trigger: it asks to be treated as hung
    std::optional<std::string> status;                      // STATUS=...: shown in `clusterd status`
    std::optional<std::chrono::microseconds> extend_start;  // EXTEND_TIMEOUT_USEC=N: more time to become ready
    std::size_t malformed = 0;                              // lines that are no VARIABLE=value
};

// Parses one datagram (or one line of the stream channel) and merges it into
// `into`, so several lines of one write accumulate like one datagram. A value
// that does not parse (EXTEND_TIMEOUT_USEC=abc) counts as malformed.
void parse_notify_text(std::string_view text, NotifyMessage& into);

[[nodiscard]] inline NotifyMessage parse_notify_text(std::string_view text) {
    NotifyMessage message;
    parse_notify_text(text, message);
    return message;
}

}  // namespace clusterd::supervisor
