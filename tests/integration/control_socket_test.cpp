// The control socket as an operator and systemd's ExecReload meet it: a
// reload that is refused makes `clusterd reload` fail with the reason, one
// that works returns 0 after it completed, and another uid is refused.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "tests/support/config_file.hpp"
#include "tests/support/daemon.hpp"

using namespace clusterd::test;

TEST_CASE("clusterd reload exits non-zero with the reason on a bad config, and 0 once it completed",
          "[integration][control_socket]") {
    ConfigFile config;
    config.write("workers = 2\n");
    Daemon daemon({"--config", config.path()});
    config.write("workers = \"many\"\n");
    auto refused = run_clusterd({"reload", "--control-socket", daemon.control_socket()});
    REQUIRE(refused);
    INFO(refused->output);
    CHECK(refused->status.to_string() == "exited with code 1");
    CHECK_THAT(refused->output, Catch::Contains("--workers"));
    config.write("workerz = 3\n");
    auto unknown = run_clusterd({"reload", "--control-socket", daemon.control_socket()});
    REQUIRE(unknown);
    CHECK(unknown->status.code == 1);
    CHECK_THAT(unknown->output, Catch::Contains("unknown key 'workerz'"));

    // With --model=threads --workers cannot change on reload; the same count reloads.
    const std::string workers = threads_model() ? "2" : "1";
    config.write("workers = " + workers + "\n");
    auto applied = run_clusterd({"reload", "--control-socket", daemon.control_socket()});
    REQUIRE(applied);
    CHECK(applied->status.clean());
    CHECK(daemon.count_log("reload complete") == 1);  // it returned after the reload, not before
    auto status = run_clusterd({"status", "--control-socket", daemon.control_socket()});
    REQUIRE(status);
    CHECK(status->status.clean());
    CHECK_THAT(status->output, Catch::Contains(workers + "/" + workers + " workers ready"));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("clusterd stop waits until the instance has stopped", "[integration][control_socket]") {
    Daemon daemon({"--workers", "2"});
    auto stopped = run_clusterd({"stop", "--control-socket", daemon.control_socket()});
    REQUIRE(stopped);
    CHECK(stopped->status.clean());
    const auto status = daemon.wait_exit(10s);
    REQUIRE(status);
    CHECK(status->clean());
    CHECK(::access(daemon.control_socket().c_str(), F_OK) != 0);  // removed at exit
    CHECK(daemon.no_worker_left());
}

TEST_CASE("the control socket refuses another uid", "[integration][control_socket]") {
    if (::geteuid() != 0 || ::access("/usr/bin/setpriv", X_OK) != 0) {
        WARN("needs root and setpriv to act as another uid");
        return;
    }
    Daemon daemon({"--workers", "1"});
    // The test's temporary directory is /tmp: the socket's own mode is what keeps nobody out.
    auto refused = run_clusterd({"status", "--control-socket", daemon.control_socket()}, {},
                                startup_timeout, {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
                                                  "--clear-groups", "--"});
    REQUIRE(refused);
    INFO(refused->output);
    CHECK(refused->status.code == 1);
    CHECK_THAT(refused->output, Catch::Contains("Permission denied") || Catch::Contains("permission denied"));
    CHECK_THAT(refused->output, !Catch::Contains("workers ready"));
    CHECK(daemon.stop_and_check_clean());
}
