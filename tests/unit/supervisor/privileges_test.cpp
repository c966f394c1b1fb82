#include "supervisor/privileges.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

using namespace clusterd::supervisor;

namespace {

RunAs resolved(std::string_view user, std::string_view group) {
    auto result = resolve_run_as(user, group);
    if (auto* error = std::get_if<std::string>(&result)) FAIL(*error);
    return std::get<RunAs>(result);
}

std::string error_of(std::string_view user, std::string_view group) {
    auto result = resolve_run_as(user, group);
    if (auto* error = std::get_if<std::string>(&result)) return *error;
    return "(resolved)";
}

}  // namespace

TEST_CASE("users and groups resolve by name or number", "[supervisor][privileges]") {
    // Debian's nobody:nogroup is 65534:65534.
    const RunAs nobody = resolved("nobody", "");
    CHECK(nobody.uid == 65534);
    CHECK(nobody.gid == 65534);
    CHECK(nobody.user == "nobody");
    CHECK(nobody.group == "nogroup");

    const RunAs with_group = resolved("nobody", "nogroup");
    CHECK(with_group.gid == 65534);
    CHECK(with_group.group == "nogroup");

    const RunAs numeric = resolved("65534", "0");
    CHECK(numeric.uid == 65534);
    CHECK(numeric.user == "nobody");
    CHECK(numeric.gid == 0);

    // An id without a passwd entry is allowed (containers, DynamicUser) once its group is known.
    const RunAs bare = resolved("4242", "4243");
    CHECK(bare.uid == 4242);
    CHECK(bare.gid == 4243);
    CHECK(bare.user == "4242");
}

TEST_CASE("an unknown user or group is a sentence naming it", "[supervisor][privileges]") {
    CHECK(error_of("no-such-user-clusterd", "") == "no such user 'no-such-user-clusterd'");
    CHECK(error_of("nobody", "no-such-group-clusterd") == "no such group 'no-such-group-clusterd'");
    CHECK(error_of("4242", "") == "user id 4242 has no passwd entry, so it has no primary group: give --group too");
    CHECK(error_of("", "") == "no user given to run as");
    CHECK(error_of("12abc", "") == "no such user '12abc'");
}

TEST_CASE("root runs workers only as another user or when told to", "[supervisor][privileges]") {
    CHECK(refuse_root_without_user(true, false, false));
    CHECK_FALSE(refuse_root_without_user(true, true, false));
    CHECK_FALSE(refuse_root_without_user(true, false, true));
    CHECK_FALSE(refuse_root_without_user(false, false, false));
    CHECK(running_as_root() == (geteuid() == 0));
}

TEST_CASE("a root process drops to nobody for good", "[supervisor][privileges]") {
    if (!running_as_root()) {
        WARN("not root: the privilege drop cannot be tested here; skipping");
        return;
    }
    const RunAs nobody = resolved("nobody", "nogroup");
    char path[] = "/tmp/clusterd-privileges-XXXXXX";
    const int file = ::mkstemp(path);
    REQUIRE(file >= 0);
    REQUIRE_FALSE(give_to(file, nobody, "the test file"));

    // The drop is irreversible, so it happens in a child; the child's exit
    // code names the first check that failed.
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        if (drop_privileges(nobody)) ::_exit(10);
        if (::getuid() != 65534 || ::geteuid() != 65534) ::_exit(11);
        if (::getgid() != 65534 || ::getegid() != 65534) ::_exit(12);
        gid_t groups[4];
        const int count = ::getgroups(4, groups);
        if (count != 1 || groups[0] != 65534) ::_exit(13);
        if (::setuid(0) == 0 || ::seteuid(0) == 0) ::_exit(14);
        // What was handed over beforehand is still ours to open.
        const int again = ::open(path, O_RDWR | O_CLOEXEC);
        if (again < 0) ::_exit(15);
        if (running_as_root()) ::_exit(16);
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    ::close(file);
    ::unlink(path);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("an unprivileged process cannot change its ids and says why", "[supervisor][privileges]") {
    // Only meaningful unprivileged; as root the previous case covers the drop.
    if (running_as_root()) {
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            const RunAs nobody{65534, 65534, "nobody", "nogroup"};
            if (drop_privileges(nobody)) ::_exit(20);
            // Now unprivileged: another drop (to root) must fail with a sentence.
            const auto error = drop_privileges(RunAs{0, 0, "root", "root"});
            ::_exit(error && error->find("setgroups() failed while dropping privileges to root:root") == 0 ? 0 : 21);
        }
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
        return;
    }
    const auto error = drop_privileges(RunAs{0, 0, "root", "root"});
    REQUIRE(error);
    CHECK(error->find("setgroups() failed while dropping privileges to root:root") == 0);
}
