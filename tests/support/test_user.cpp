#include "tests/support/test_user.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

namespace clusterd::test {

namespace {

std::optional<TestUser> look_up() {
    const passwd* entry = ::getpwnam(test_user_name);
    if (entry == nullptr) return std::nullopt;
    return TestUser{entry->pw_name, entry->pw_uid, entry->pw_gid};
}

}  // namespace

std::optional<TestUser> dedicated_test_user(std::string* why) {
    if (auto user = look_up()) return user;
    // Two test processes may race here: useradd locks /etc/passwd, the
    // loser fails, and the look-up after it finds the winner's user.
    const std::string command = std::string("PATH=/usr/sbin:/sbin:$PATH useradd --system --user-group --no-create-home --shell /usr/sbin/nologin ") +
                                test_user_name + " >/dev/null 2>&1";
    const int status = std::system(command.c_str());
    if (auto user = look_up()) return user;
    if (why != nullptr) *why = "useradd " + std::string(test_user_name) + " failed (status " + std::to_string(status) + ")";
    return std::nullopt;
}

int as_user(const TestUser& user, int (*probe)(const void* context), const void* context) {
    const pid_t parent = ::getpid();
    const pid_t child = ::fork();
    if (child < 0) return -1;
    if (child == 0) {
        if (::setgroups(1, &user.gid) != 0 || ::setresgid(user.gid, user.gid, user.gid) != 0 ||
            ::setresuid(user.uid, user.uid, user.uid) != 0) {
            ::_exit(126);
        }
        // After the id change, which clears it.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::_exit(probe(context));
    }
    int status = 0;
    if (::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
    const int code = WEXITSTATUS(status);
    return code >= 126 ? -1 : code;
}

}  // namespace clusterd::test
