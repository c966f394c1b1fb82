// The children's side of privilege separation (as nginx does it): started as
// root with --user, the supervisor keeps root, and every process it starts
// (HTTP worker, compute process, admin worker, exec shim) becomes the user
// itself, first thing, before it reads anything or starts a thread.
//
// The supervisor says whom to become in the child contract
// (common/child_contract.hpp): `--run-as UID:GID --dumpable 0|1`, right
// after `--role`. A child started without them (the supervisor is not root)
// keeps the ids it was started with, as before.
//
// What becoming the user means, in this order:
//   1. the capability bounding set emptied (PR_CAPBSET_DROP; needs
//      CAP_SETPCAP, which root has; skipped where it does not);
//   2. setgroups() to exactly the gid (no supplementary group of root's or
//      the user's: least privilege), setresgid(), setresuid();
//   3. every capability set emptied: permitted, effective, inheritable
//      (capset) and ambient (PR_CAP_AMBIENT_CLEAR_ALL);
//   4. PR_SET_NO_NEW_PRIVS: no exec (setuid binary, file capabilities) can
//      give anything back;
//   5. PR_SET_DUMPABLE 0 unless core dumps are asked for (--core-dumps,
//      --core-on-hang): another process of the same uid can then neither
//      ptrace it nor read /proc/<pid>/mem, environ, fd/; its /proc entries
//      belong to root. The kernel sets a process dumpable again at execve,
//      so a program run in exec mode is dumpable unless it says otherwise
//      (docs/SECURITY.md);
//   6. the proof: ids, NoNewPrivs, empty sets, and setuid(0) fails.
// PR_SET_PDEATHSIG is cleared by the kernel when ids change, so callers set
// it after this, not before.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <variant>

namespace clusterd::child {

struct Identity {
    uid_t uid = 0;
    gid_t gid = 0;
    bool dumpable = false;  // keep PR_SET_DUMPABLE 1 (core dumps asked for)
};

// The --run-as value: "UID:GID".
[[nodiscard]] std::string format_run_as(const Identity& identity);

// The identity a child's argv asks for (scanning its option/value pairs up to
// "--"), nothing when it asks for none, or the sentence saying what is wrong.
[[nodiscard]] std::variant<std::monostate, Identity, std::string> identity_in(int argc, const char* const* argv);

// Becomes identity for good (steps 1-6 above). Returns the failure sentence,
// or nothing when done. Single-threaded callers only.
[[nodiscard]] std::optional<std::string> become(const Identity& identity);

// What /proc/self/status would show, read from the kernel directly: whether
// every capability set (but the bounding one) is empty.
[[nodiscard]] bool holds_no_capability();

}  // namespace clusterd::child
