// The shared-memory segment as a test sees it from outside: the segment is
// two memfds (docs/SHM.md), so it has no name in /dev/shm; these helpers
// prove that and find the memfds a process holds.
#pragma once

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

namespace clusterd::test {

// Names in /dev/shm that start with "clusterd" (a segment's name before
// layout version 7, or something planted to look like one).
[[nodiscard]] std::set<std::string> clusterd_shm_names();

// The descriptors of `pid` that are the segment's memfds, as
// "/proc/<pid>/fd/<n>"; `which` is "header" or "body".
[[nodiscard]] std::vector<std::string> segment_memfds(pid_t pid, const std::string& which);

}  // namespace clusterd::test
