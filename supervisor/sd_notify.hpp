// sd_notify without libsystemd: the protocol is one datagram of
// newline-separated "KEY=value" assignments sent to the unix socket named by
// $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@').
// systemd sets it for Type=notify services; without it every call here is a
// no-op, so the supervisor calls the same code whether or not it runs under
// systemd.
//
// How the supervisor is meant to use it (single-threaded, from its uv loop;
// every call is one non-blocking sendto(), no handle and no callback):
//
//   Notifier notifier = Notifier::from_environment();   // once, at start
//   auto ping = watchdog_interval();                    // once, at start
//   if (ping) start a uv_timer repeating every *ping / 2 that calls
//             notifier.watchdog() only while no slot is past its hang
//             timeout unhandled (systemd's watchdog then covers the cluster);
//   every worker ready (first time)   → notifier.ready();
//   SIGHUP accepted                   → notifier.reloading();
//   reload done, every worker ready   → notifier.ready();
//   stop begins                       → notifier.stopping();
//   whenever the summary changes      → notifier.status(format_status_line(summary));
//
// Several assignments may share one datagram: send("READY=1\nSTATUS=...").
// NotifyAccess=main in the unit means only the supervisor's pid is heard;
// workers inherit $NOTIFY_SOCKET but must not use it. A failure to send
// never stops the daemon: it is logged once per kind (errno) and reported
// through the return value.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/units.hpp"

namespace clusterd::supervisor {

class Notifier {
public:
    // Reads $NOTIFY_SOCKET; unset or empty → a disabled notifier. A value that
    // is neither an absolute path nor '@'-name, or too long for sun_path, is
    // logged as a warning and also gives a disabled notifier.
    [[nodiscard]] static Notifier from_environment();
    // The same from an explicit $NOTIFY_SOCKET value ("" disables).
    explicit Notifier(std::string_view socket);

    // Whether datagrams are sent at all.
    [[nodiscard]] bool enabled() const { return !address_.empty(); }
    // The socket as given ("/run/systemd/notify", "@/org/...") for log lines; empty when disabled.
    [[nodiscard]] const std::string& socket() const { return socket_; }

    // Sends state as one datagram. True when sent; false when disabled or
    // when sending failed (already logged, once per errno).
    bool send(std::string_view state);

    bool ready() { return send("READY=1"); }
    // "RELOADING=1\nMONOTONIC_USEC=<now>": Type=notify-reload (systemd 253+)
    // requires the timestamp; older systemd ignores it.
    bool reloading();
    bool stopping() { return send("STOPPING=1"); }
    // "STATUS=<text>" with every CR and LF turned into a space: one line.
    bool status(std::string_view text);
    bool watchdog() { return send("WATCHDOG=1"); }

private:
    std::string socket_;
    std::string address_;  // sockaddr_un bytes (family and path), empty when disabled
    std::vector<int> reported_errors_;
};

// $WATCHDOG_USEC as an interval when the watchdog is meant for this process:
// $WATCHDOG_PID absent (then it is ours) or equal to getpid(). Empty when
// unset, zero, malformed, or meant for another pid. Ping at half of it.
[[nodiscard]] std::optional<std::chrono::microseconds> watchdog_interval();

// The pure half of watchdog_interval(); null pointers stand for unset variables.
[[nodiscard]] std::optional<std::chrono::microseconds> parse_watchdog_interval(const char* watchdog_usec,
                                                                              const char* watchdog_pid, pid_t self);

// What STATUS= says about the cluster, as numbers; format_status_line turns it into the line.
struct StatusSummary {
    std::string activity;  // "" when serving normally, else e.g. "reloading", "stopping"
    unsigned ready = 0;    // workers ready
    unsigned total = 0;    // workers configured
    std::uint64_t restarts = 0;
    std::vector<unsigned> breaker_open;  // slots whose circuit breaker is open
    unsigned breaker_deaths = 0;         // --breaker-deaths
    Millis breaker_window{0};            // --breaker-window
    std::string last_problem;  // e.g. "worker 1 (pid 4242) killed by SIGSEGV after 2.1 s"; "" when none
    bool fault_injection = false;  // --enable-fault-injection: said first, so systemctl status cannot hide it
};

// "3/4 workers ready, 12 restarts; slot 2 circuit breaker open: 5 deaths in 30 s;
//  last: worker 1 (pid 4242) killed by SIGSEGV after 2.1 s"
// with "reloading: " in front when activity is "reloading", and "FAULT INJECTION
// ENABLED; " before everything while fault injection is on. One line, no CR/LF.
[[nodiscard]] std::string format_status_line(const StatusSummary& summary);

}  // namespace clusterd::supervisor
