#include "supervisor/sd_notify.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "common/unique_fd.hpp"

namespace clusterd::supervisor {
namespace {

// The sockaddr_un bytes for a $NOTIFY_SOCKET value, as libsystemd builds
// them: an abstract name ('@' in the variable) becomes a leading NUL and its
// length is exactly family + NUL + name (abstract names are not
// NUL-terminated, and the length is part of the name). Empty when invalid.
std::string socket_address(std::string_view socket) {
    if (socket.empty() || (socket[0] != '/' && socket[0] != '@')) return {};
    sockaddr_un addr{};
    if (socket.size() > sizeof addr.sun_path - (socket[0] == '/' ? 1 : 0)) return {};
    addr.sun_family = AF_UNIX;
    std::copy(socket.begin(), socket.end(), addr.sun_path);
    std::size_t length = offsetof(sockaddr_un, sun_path) + socket.size();
    if (socket[0] == '@') addr.sun_path[0] = '\0';
    return {reinterpret_cast<const char*>(&addr), length};
}

std::string seconds_text(Millis duration) {
    const auto ms = duration.count();
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
    if (ms < 1000) return std::to_string(ms) + " ms";
    return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s";
}

std::string plural(std::uint64_t count, std::string_view one, std::string_view many) {
    return std::to_string(count) + " " + std::string(count == 1 ? one : many);
}

void one_line(std::string& text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::replace(text.begin(), text.end(), '\r', ' ');
}

}  // namespace

Notifier Notifier::from_environment() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    return Notifier(socket == nullptr ? "" : socket);
}

Notifier::Notifier(std::string_view socket) : address_(socket_address(socket)) {
    if (!address_.empty()) {
        socket_ = socket;
    } else if (!socket.empty()) {
        spdlog::warn("NOTIFY_SOCKET='{}' is neither an absolute path nor an abstract '@' name that fits a unix "
                     "socket address; systemd will not hear readiness or watchdog pings",
                     socket);
    }
}

bool Notifier::send(std::string_view state) {
    if (!enabled()) return false;
    // A fresh socket per message, as libsystemd does: nothing to keep open
    // across forks, and a failure (EMFILE, say) never sticks.
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    int error = 0;
    const char* call = "socket";
    if (!fd) {
        error = errno;
    } else {
        call = "sendto";
        ssize_t sent;
        do {
            sent = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                            reinterpret_cast<const sockaddr*>(address_.data()), static_cast<socklen_t>(address_.size()));
        } while (sent < 0 && errno == EINTR);
        if (sent >= 0) return true;
        error = errno;
    }
    if (std::find(reported_errors_.begin(), reported_errors_.end(), error) == reported_errors_.end()) {
        reported_errors_.push_back(error);
        std::string what(state.substr(0, state.find('\n')));
        spdlog::warn("{}() failed while telling systemd {} on NOTIFY_SOCKET={}: {} (further failures like this one "
                     "are not logged)",
                     call, what, socket_, std::strerror(error));
    }
    return false;
}

bool Notifier::reloading() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
    return send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

bool Notifier::status(std::string_view text) {
    std::string state = "STATUS=";
    state += text;
    one_line(state);
    return send(state);
}

std::optional<std::chrono::microseconds> parse_watchdog_interval(const char* watchdog_usec, const char* watchdog_pid,
                                                                pid_t self) {
    if (watchdog_usec == nullptr) return std::nullopt;
    if (watchdog_pid != nullptr) {
        // Set for another process (we were started by a child of the unit's
        // main process, say): the pings would not be accepted from us.
        const auto pid = parse_whole_number<pid_t>(watchdog_pid);
        if (!pid || *pid != self) return std::nullopt;
    }
    const auto usec = parse_whole_number<std::uint64_t>(watchdog_usec);
    if (!usec || *usec == 0) return std::nullopt;
    return std::chrono::microseconds(*usec);
}

std::optional<std::chrono::microseconds> watchdog_interval() {
    return parse_watchdog_interval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), getpid());
}

std::string format_status_line(const StatusSummary& summary) {
    std::string line;
    if (summary.fault_injection) line += "FAULT INJECTION ENABLED; ";
    if (!summary.activity.empty()) line += summary.activity + ": ";
    line += std::to_string(summary.ready) + "/" + plural(summary.total, "worker", "workers") + " ready, " +
            plural(summary.restarts, "restart", "restarts");
    if (!summary.breaker_open.empty()) {
        const bool several = summary.breaker_open.size() > 1;
        line += several ? "; slots " : "; slot ";
        // Bounded: systemctl status shows one line, and the count says the rest.
        constexpr std::size_t named = 8;
        for (std::size_t i = 0; i < summary.breaker_open.size() && i < named; ++i) {
            if (i > 0) line += ", ";
            line += std::to_string(summary.breaker_open[i]);
        }
        if (summary.breaker_open.size() > named) line += " and " + std::to_string(summary.breaker_open.size() - named) + " more";
        line += several ? " circuit breakers open: " : " circuit breaker open: ";
        line += plural(summary.breaker_deaths, "death", "deaths") + " in " + seconds_text(summary.breaker_window);
    }
    if (!summary.last_problem.empty()) line += "; last: " + summary.last_problem;
    one_line(line);
    return line;
}

}  // namespace clusterd::supervisor
