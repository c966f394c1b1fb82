#include "supervisor/exit_info.hpp"

#include <uv.h>

#include <cstring>

namespace clusterd::supervisor {

ExitInfo ExitInfo::from_uv(long exit_status, int term_signal) {
    if (term_signal != 0) return signaled(term_signal);
    return exited(static_cast<int>(exit_status));
}

std::string signal_name(int signal) {
    if (const char* abbrev = sigabbrev_np(signal)) return std::string("SIG") + abbrev;
    return "signal " + std::to_string(signal);
}

std::string describe(const ExitInfo& exit) {
    switch (exit.kind) {
        case ExitInfo::Kind::exited:
            return "exited with code " + std::to_string(exit.code);
        case ExitInfo::Kind::signaled:
            return "killed by " + signal_name(exit.signal);
        case ExitInfo::Kind::spawn_failed:
            return std::string("could not be started: uv_spawn() failed: ") + uv_strerror(exit.code);
    }
    return "ended in an unknown way";  // unreachable: the switch covers every Kind
}

}  // namespace clusterd::supervisor
