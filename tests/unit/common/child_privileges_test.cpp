#include "common/child_privileges.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/child_contract.hpp"

using namespace clusterd::child;

namespace {

std::variant<std::monostate, Identity, std::string> identity_of(std::vector<const char*> words) {
    words.insert(words.begin(), "clusterd");
    return identity_in(static_cast<int>(words.size()), words.data());
}

// Runs check in a forked child (becoming someone is irreversible); the
// child's exit code names the first check that failed, 0 when all held.
int in_child(int (*check)()) {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(check());
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("the identity a child is to become travels as --run-as UID:GID --dumpable 0|1", "[common][privileges]") {
    const std::vector<std::string> words = run_as_words(Identity{4242, 4243, true});
    CHECK(words == std::vector<std::string>{"--run-as", "4242:4243", "--dumpable", "1"});
    CHECK(run_as_words(std::nullopt).empty());

    const auto asked = identity_of({"--role", "worker", "--run-as", "4242:4243", "--dumpable", "0", "--slot", "1"});
    REQUIRE(std::holds_alternative<Identity>(asked));
    CHECK(std::get<Identity>(asked).uid == 4242);
    CHECK(std::get<Identity>(asked).gid == 4243);
    CHECK_FALSE(std::get<Identity>(asked).dumpable);

    CHECK(std::holds_alternative<std::monostate>(identity_of({"--role", "worker", "--slot", "1"})));
    // Past "--" is the exec-mode program's: never read as ours.
    CHECK(std::holds_alternative<std::monostate>(identity_of({"--role", "exec", "--", "--run-as", "0:0"})));
    const auto bad = identity_of({"--role", "worker", "--run-as", "nobody"});
    REQUIRE(std::holds_alternative<std::string>(bad));
    CHECK(std::get<std::string>(bad) == "the supervisor's --run-as 'nobody' is not UID:GID");
    CHECK(std::holds_alternative<std::string>(identity_of({"--role", "worker", "--run-as", "1:2", "--dumpable", "y"})));
}

TEST_CASE("a root process becomes the user for good: no capability, no new privileges, not dumpable",
          "[common][privileges]") {
    if (::geteuid() != 0) {
        WARN("not root: nobody to become here; skipping");
        return;
    }
    CHECK(in_child([] {
              if (become(Identity{65534, 65534, false})) return 10;
              if (::getuid() != 65534 || ::geteuid() != 65534) return 11;
              if (::getgid() != 65534 || ::getegid() != 65534) return 12;
              gid_t groups[4];
              if (::getgroups(4, groups) != 1 || groups[0] != 65534) return 13;
              if (::setuid(0) == 0 || ::seteuid(0) == 0) return 14;
              if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 15;
              if (!holds_no_capability()) return 16;
              if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) return 17;
              // Root had every capability in its bounding set; none is left.
              if (::prctl(PR_CAPBSET_READ, 0 /* CAP_CHOWN */, 0, 0, 0) != 0) return 18;
              return 0;
          }) == 0);
    // --core-dumps: the same, but dumpable.
    CHECK(in_child([] {
              if (become(Identity{65534, 65534, true})) return 20;
              if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1) return 21;
              return ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 && holds_no_capability() ? 0 : 22;
          }) == 0);
}

TEST_CASE("an unprivileged process cannot become root and says why", "[common][privileges]") {
    const auto attempt = [] {
        const auto error = become(Identity{0, 0, false});
        return error && error->find("setgroups() failed while becoming 0:0") == 0 ? 0 : 30;
    };
    if (::geteuid() != 0) {
        CHECK(attempt() == 0);
        return;
    }
    CHECK(in_child([] {
              if (become(Identity{65534, 65534, false})) return 31;
              const auto error = become(Identity{0, 0, false});
              return error && error->find("setgroups() failed while becoming 0:0") == 0 ? 0 : 32;
          }) == 0);
}
