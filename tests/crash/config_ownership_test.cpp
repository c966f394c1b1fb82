// The supervisor is the one owner of the configuration: a worker respawned
// after any number of crashes serves with the configuration the supervisor
// accepted last, never with an edit it refused or was never asked to load.
// What a worker runs with is observed from outside: --max-body-size 16
// answers a 100-byte body 413, the default does not.
#include <catch2/catch.hpp>

#include <csignal>
#include <regex>
#include <string>

#include "tests/support/config_file.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

constexpr auto settle_timeout = 15s;
const std::string hundred_bytes(100, 'x');

bool body_refused(std::uint16_t port) {
    HttpClient client(port);
    return client.post("/", hundred_bytes).status == 413;
}

// Kills every worker and waits for as many new ones, all ready again.
void kill_every_worker(Daemon& daemon, unsigned workers) {
    const auto before = daemon.wait_for_workers(workers);
    REQUIRE(before.size() == workers);
    const unsigned ready_lines = daemon.count_log("workers ready");
    for (pid_t pid : before) REQUIRE(::kill(pid, SIGKILL) == 0);
    REQUIRE(eventually(
        [&] {
            const auto now = daemon.worker_pids();
            for (pid_t pid : now) {
                for (pid_t old : before) {
                    if (pid == old) return false;
                }
            }
            return now.size() == workers;
        },
        settle_timeout));
    REQUIRE(daemon.wait_for_log("workers ready", settle_timeout, ready_lines + 1));
}

}  // namespace

TEST_CASE("after a refused reload, workers killed and respawned keep the configuration that was accepted",
          "[crash][config_ownership]") {
    ConfigFile config;
    config.write("workers = 2\nmax-body-size = \"16\"\n");
    Daemon daemon({"--config", config.path()});
    REQUIRE(body_refused(daemon.port()));

    const std::string bad_edit = GENERATE(std::string("workers = \"many\"\nmax-body-size = \"1MiB\"\n"),
                                          std::string("max-body-size = \"1MiB\"\nworkerz = 3\n"));
    INFO("the refused file:\n" << bad_edit);
    config.write(bad_edit);
    REQUIRE(daemon.send_signal(SIGHUP));
    REQUIRE(daemon.wait_for_log("reload refused", settle_timeout));
    if (bad_edit.find("workerz") != std::string::npos) CHECK(daemon.count_log("unknown key 'workerz'") == 1);

    kill_every_worker(daemon, 2);
    CHECK(body_refused(daemon.port()));
    kill_every_worker(daemon, 2);
    CHECK(body_refused(daemon.port()));
    CHECK(daemon.count_log("exited with code 2") == 0);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("an edit that was never reloaded has no effect on respawned workers, and takes effect on reload",
          "[crash][config_ownership]") {
    ConfigFile config;
    config.write("workers = 2\nmax-body-size = \"16\"\n");
    Daemon daemon({"--config", config.path()});
    REQUIRE(body_refused(daemon.port()));

    config.write("workers = 2\nmax-body-size = \"1MiB\"\n");
    kill_every_worker(daemon, 2);
    CHECK(body_refused(daemon.port()));

    REQUIRE(daemon.send_signal(SIGHUP));
    REQUIRE(daemon.wait_for_log("reload complete", settle_timeout));
    CHECK_FALSE(body_refused(daemon.port()));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a reload that turns --hang-timeout on turns hang detection on", "[crash][config_ownership]") {
    ConfigFile config;
    config.write("workers = 2\nhang-timeout = \"0\"\n");
    Daemon daemon({"--config", config.path(), "--enable-fault-injection"});
    config.write("workers = 2\nhang-timeout = \"1s\"\n");
    REQUIRE(daemon.send_signal(SIGHUP));
    REQUIRE(daemon.wait_for_log("reload complete", settle_timeout));

    RawConnection hung(daemon.port());
    REQUIRE(hung.send(http_request("GET", "/debug/crash?mode=hang")));
    REQUIRE(daemon.wait_for_log("fault injection: hang on request", settle_timeout));
    CHECK(daemon.wait_for_log(std::regex(R"(\d+ \(pid \d+\) hung)"), settle_timeout));
    CHECK(hung.wait_closed(settle_timeout));
    CHECK(daemon.wait_for_workers(worker_processes(2)).size() == worker_processes(2));
    CHECK(daemon.stop_and_check_clean());
}
