// spdlog set up for one process: every line names the role, the slot and the
// pid ("[worker 2 4242]"), so an operator can follow one process in a mixed
// stream.
//
// Under systemd, stderr may be a stream into the journal. systemd says so by
// setting $JOURNAL_STREAM to "<device>:<inode>" of that stream; the variable
// is inherited by anything we start, so only a match with stderr's own
// fstat() proves it (a daemon started from a shell inside a service whose
// stderr was redirected to a file must keep its timestamps). When it matches,
// the journal adds its own timestamp, and each line starts with the syslog
// priority "<N>" (sd-daemon.h) so that journalctl -p err finds our errors.
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

namespace clusterd {

// "[supervisor 1234]" or "[worker 3 4242]". Decides once whether stderr is
// the journal (stderr_is_journal()) and formats accordingly. With log_file,
// lines go there instead (timestamped; SIGUSR1 reopens it: log_file_sink.hpp).
void init_logging(const std::string& who, spdlog::level::level_enum level, const std::string& log_file = "");

// True when $JOURNAL_STREAM names the device and inode of our stderr.
[[nodiscard]] bool stderr_is_journal();

// Pure half of stderr_is_journal(): whether a $JOURNAL_STREAM value
// ("<dev>:<ino>", both decimal) names this device and inode. Malformed → false.
[[nodiscard]] bool journal_stream_names(std::string_view journal_stream, dev_t device, ino_t inode);

// The syslog priority journald reads from a "<N>" line prefix:
// critical 2, err 3, warn 4, info 6, debug and trace 7.
[[nodiscard]] int syslog_priority(spdlog::level::level_enum level);

// The formatter for one stderr line. who may be empty (the supervisor's sink
// for worker records: the worker wrote its own "[worker K pid]").
//   journal == false: "2026-11-21 23:49:42.562 [info] [supervisor 3244] text"
//   journal == true:  "<6>[info] [supervisor 3244] text"
[[nodiscard]] std::unique_ptr<spdlog::formatter> make_stderr_formatter(std::string_view who, bool journal);

}  // namespace clusterd
