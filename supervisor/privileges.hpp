// Running as someone else: --user and --group resolved to ids. As nginx, a
// supervisor started as root keeps root; the children become the ids
// themselves (common/child_privileges.hpp).
//
// The policy the supervisor follows (main process, at start, in this order,
// before its loop and before any worker exists):
//
//   if (auto refusal = refuse_root_without_user(running_as_root(), !user.empty(), allow_root))
//       → log *refusal, exit 2;
//   auto ids = resolve_run_as(user, group);            // error → log, exit 2
//   bind the listening socket(s) (a port below 1024 needs root), the control socket,
//   create the shm segment (children inherit its descriptors: nothing to chown),
//   log shared_user_warning(ids) if any,
//   then start the loop; every child is spawned with --run-as ids.
//
// Nothing here is called after the loop starts; every call is synchronous.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace clusterd::supervisor {

struct RunAs {
    uid_t uid = 0;
    gid_t gid = 0;
    std::string user;   // as resolved: "nobody", or "1234" for an id without a passwd entry
    std::string group;  // likewise
};

// user: a name or a numeric uid; group: a name, a numeric gid, or empty for
// the user's primary group. Errors are sentences: "no such user 'x'",
// "no such group 'x'", "user id 1234 has no passwd entry, so it has no
// primary group: give --group too".
[[nodiscard]] std::variant<RunAs, std::string> resolve_run_as(std::string_view user, std::string_view group);

// The warning for a user other daemons share ("nobody", uid 65534): any
// process of theirs could ptrace a dumpable worker or open what the workers
// open. Nothing for a dedicated user.
[[nodiscard]] std::optional<std::string> shared_user_warning(const RunAs& ids);

// Effective uid 0.
[[nodiscard]] bool running_as_root();

// The refusal sentence when the daemon would run workers as root without
// being told it may (--allow-root); nothing otherwise.
[[nodiscard]] std::optional<std::string> refuse_root_without_user(bool as_root, bool user_given, bool allow_root);

}  // namespace clusterd::supervisor
