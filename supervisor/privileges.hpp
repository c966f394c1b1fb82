// Running as someone else: --user and --group resolved to ids, and the
// irreversible drop from root to them.
//
// The policy the supervisor is meant to follow (main process, at start, in
// this order, before its loop and before any worker exists):
//
//   if (auto refusal = refuse_root_without_user(running_as_root(), !user.empty(), allow_root))
//       → log *refusal, exit 2;
//   auto ids = resolve_run_as(user, group);            // error → log, exit 2
//   bind the listening socket(s) (a port below 1024 needs root),
//   create the shm segment, give_to(segment fd, ids, "the shared memory segment"),
//   drop_privileges(ids)                               // error → log, exit 1
//   then start the loop; workers inherit the ids through exec.
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

// setgroups() to exactly ids.gid (supplementary groups of root or of the user
// are not kept: least privilege), setresgid(), setresuid(), then proves the
// drop: real, effective and saved ids are the target ones and setuid(0)
// fails. Returns the failure sentence, or nothing when done. Call it while
// the process has one thread (before the loop, before uv's thread pool
// starts): glibc makes set*id() process-wide with a signal broadcast to every
// thread, which is better not depended on.
[[nodiscard]] std::optional<std::string> drop_privileges(const RunAs& ids);

// fchown() of something we created as root (the shm segment) to the ids the
// workers will run as, so they can still open it after the drop. what names
// it in the error: "fchown() of the shared memory segment to nobody:nogroup
// failed: Operation not permitted".
[[nodiscard]] std::optional<std::string> give_to(int fd, const RunAs& ids, std::string_view what);

// Effective uid 0.
[[nodiscard]] bool running_as_root();

// The refusal sentence when the daemon would run workers as root without
// being told it may (--allow-root); nothing otherwise.
[[nodiscard]] std::optional<std::string> refuse_root_without_user(bool as_root, bool user_given, bool allow_root);

}  // namespace clusterd::supervisor
