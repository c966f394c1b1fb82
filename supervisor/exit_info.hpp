// How a worker ended, as the supervisor learns it from uv_spawn's exit_cb (or
// from a failed spawn), and the sentence an operator greps for.
#pragma once

#include <string>

namespace clusterd::supervisor {

struct ExitInfo {
    enum class Kind { exited, signaled, spawn_failed };
    Kind kind = Kind::exited;
    int code = 0;    // exit status (exited) or negative uv error (spawn_failed)
    int signal = 0;  // terminating signal (signaled)

    static ExitInfo exited(int code) { return {Kind::exited, code, 0}; }
    static ExitInfo signaled(int signal) { return {Kind::signaled, 0, signal}; }
    static ExitInfo spawn_failed(int uv_error) { return {Kind::spawn_failed, uv_error, 0}; }
    // libuv's exit_cb reports (exit_status, term_signal).
    static ExitInfo from_uv(long exit_status, int term_signal);

    [[nodiscard]] bool clean() const { return kind == Kind::exited && code == 0; }
};

// "SIGSEGV", or "signal 77" for one without a name.
[[nodiscard]] std::string signal_name(int signal);

// "exited with code 1", "killed by SIGSEGV", "could not be started: ENOENT (no such file or directory)"
[[nodiscard]] std::string describe(const ExitInfo& exit);

}  // namespace clusterd::supervisor
