// spdlog set up for one process: every line names the role, the slot and the
// pid ("[worker 2 4242]"), so an operator can follow one process in a mixed
// stream. Under systemd (JOURNAL_STREAM set) the journal adds its own time.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace clusterd {

// "[supervisor 1234]" or "[worker 3 4242]"
void init_logging(const std::string& who, spdlog::level::level_enum level);

}  // namespace clusterd
