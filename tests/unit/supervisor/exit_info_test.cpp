#include <uv.h>

#include <catch2/catch.hpp>
#include <csignal>

#include "supervisor/exit_info.hpp"

using namespace clusterd::supervisor;

TEST_CASE("a wait status becomes a sentence an operator can grep", "[supervisor][exit_info]") {
    REQUIRE(describe(ExitInfo::exited(1)) == "exited with code 1");
    REQUIRE(describe(ExitInfo::signaled(SIGSEGV)) == "killed by SIGSEGV");
    REQUIRE(describe(ExitInfo::signaled(SIGKILL)) == "killed by SIGKILL");
    REQUIRE(describe(ExitInfo::spawn_failed(UV_EMFILE)) ==
            "could not be started: uv_spawn() failed: too many open files");
}

TEST_CASE("libuv's exit callback arguments map to exits and signals", "[supervisor][exit_info]") {
    REQUIRE(ExitInfo::from_uv(0, SIGABRT).kind == ExitInfo::Kind::signaled);
    REQUIRE(ExitInfo::from_uv(0, SIGABRT).signal == SIGABRT);
    REQUIRE(ExitInfo::from_uv(3, 0).kind == ExitInfo::Kind::exited);
    REQUIRE(ExitInfo::from_uv(3, 0).code == 3);
    REQUIRE(ExitInfo::from_uv(0, 0).clean());
}

TEST_CASE("a signal without a name is still named", "[supervisor][exit_info]") {
    REQUIRE(signal_name(SIGTERM) == "SIGTERM");
    REQUIRE(signal_name(200) == "signal 200");
}
