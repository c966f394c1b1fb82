#include "supervisor/process_tree.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

using namespace clusterd::supervisor;

TEST_CASE("a process is placed in the tree by its chain of parents", "[supervisor][process_tree]") {
    const pid_t self = ::getpid();
    CHECK(parent_of(self) == ::getppid());
    CHECK(is_same_or_descendant(self, self));
    CHECK(is_same_or_descendant(self, ::getppid()));
    CHECK_FALSE(is_same_or_descendant(::getppid(), self));
    CHECK_FALSE(is_same_or_descendant(self, 0));

    SECTION("a grandchild counts as a descendant, a sibling does not") {
        int to_parent[2];
        REQUIRE(::pipe(to_parent) == 0);
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            const pid_t grandchild = ::fork();
            if (grandchild == 0) {
                ::pause();
                ::_exit(0);
            }
            (void)!::write(to_parent[1], &grandchild, sizeof grandchild);
            ::pause();
            ::_exit(0);
        }
        pid_t grandchild = 0;
        REQUIRE(::read(to_parent[0], &grandchild, sizeof grandchild) == sizeof grandchild);
        CHECK(is_same_or_descendant(grandchild, child));
        CHECK(is_same_or_descendant(grandchild, self));
        CHECK_FALSE(is_same_or_descendant(child, grandchild));
        ::kill(grandchild, SIGKILL);
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        ::close(to_parent[0]);
        ::close(to_parent[1]);
    }
}

TEST_CASE("a process that is gone is not placed anywhere", "[supervisor][process_tree]") {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) ::_exit(0);
    REQUIRE(::waitpid(child, nullptr, 0) == child);
    CHECK_FALSE(parent_of(child));
    CHECK_FALSE(is_same_or_descendant(child, ::getpid()));
}
