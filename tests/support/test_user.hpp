// A dedicated unprivileged user for the privilege-separation tests:
// "clusterd-test", created with useradd (a system user, no home, no shell)
// the first time a test run as root needs it and kept afterwards, so that a
// fresh machine (CI runs as root on Debian 12) has it without setup. Not
// nobody: the point of the tests is what a process of the workers' uid can
// do, and nobody's processes are the machine's other daemons.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace clusterd::test {

struct TestUser {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
};

inline constexpr const char* test_user_name = "clusterd-test";

// The user, created if missing; empty (with the reason in *why) if that failed.
[[nodiscard]] std::optional<TestUser> dedicated_test_user(std::string* why = nullptr);

// Forks a process that becomes uid:gid (no supplementary group) and runs
// probe there; returns probe's result (0..125), or -1 if the child did not
// get that far. For "a process of the workers' uid tries X".
[[nodiscard]] int as_user(const TestUser& user, int (*probe)(const void* context), const void* context);

}  // namespace clusterd::test
