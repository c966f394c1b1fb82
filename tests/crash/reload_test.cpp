// Rolling reload under a real load generator: wrk keeps keep-alive
// connections busy while the configuration is reloaded ten times in a row
// (the worker count going 2 → 3 → 2 ...), and counts every socket error and
// non-2xx response. The bar is zero. An invalid configuration is refused and
// the running workers are left alone.
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "tests/support/config_file.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/wrk_load.hpp"

using namespace clusterd::test;

namespace {


}  // namespace

TEST_CASE("ten reloads in a row under keep-alive load cause zero failed requests", "[crash][reload]") {
    if (!wrk_installed()) {
        WARN("wrk is not installed (Debian package wrk; make test installs it); skipping");
        return;
    }
    ConfigFile config;
    config.write("workers = 2\n");
    Daemon daemon({"--config", config.path()});
    WrkLoad load(daemon.port(), 20, 10s);
    std::this_thread::sleep_for(500ms);  // wrk is connected and busy before the first reload

    int completed = 0;
    for (int i = 1; i <= 10; ++i) {
        config.write(i % 2 == 1 ? "workers = 3\n" : "workers = 2\n");
        if (!daemon.send_signal(SIGHUP) || !daemon.wait_for_log("reload complete", 20s, static_cast<unsigned>(i))) break;
        completed = i;
    }
    const std::string wrk = load.finish();
    INFO("reloads completed: " << completed);
    REQUIRE(completed == 10);
    INFO(wrk);
    std::smatch requests;
    REQUIRE(std::regex_search(wrk, requests, std::regex(R"((\d+) requests in)")));
    CHECK(std::stoul(requests[1].str()) > 1000);
    CHECK(wrk.find("Socket errors") == std::string::npos);
    CHECK(wrk.find("Non-2xx") == std::string::npos);
    CHECK(daemon.count_log("reload complete") == 10);
    CHECK(daemon.count_log("reload failed") == 0);
    // Ended on an even reload: two workers again, every one of the newest configuration.
    CHECK(daemon.wait_for_workers(2).size() == 2);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("an invalid configuration on reload is refused and the running workers keep serving",
          "[crash][reload]") {
    ConfigFile config;
    config.write("workers = 2\n");
    Daemon daemon({"--config", config.path()});
    const auto before = daemon.wait_for_workers(2);
    REQUIRE(before.size() == 2);

    config.write("workers = many\n");
    REQUIRE(daemon.send_signal(SIGHUP));
    CHECK(daemon.wait_for_log(std::regex(R"(reload refused, the workers keep the configuration they have: .*--workers)")));
    config.write("workers = 2\ncompute = \"processes\"\n");
    REQUIRE(daemon.send_signal(SIGHUP));
    CHECK(daemon.wait_for_log("--compute, --compute-processes and (with processes) --compute-queue size the shared "
                              "memory and cannot change on reload"));

    CHECK(daemon.worker_pids() == before);
    HttpClient client(daemon.port());
    CHECK(client.get("/healthz").status == 200);
    // A valid one afterwards is accepted.
    config.write("workers = 1\n");
    auto sent = run_clusterd({"reload", "--control-socket", daemon.control_socket()});
    REQUIRE(sent);
    CHECK(sent->status.clean());
    CHECK_THAT(sent->output, Catch::Contains("reload: 1 workers on configuration generation"));
    CHECK(daemon.count_log("reload complete: 1 workers") == 1);  // it returned after, not before
    CHECK(daemon.wait_for_workers(1).size() == 1);
    CHECK(daemon.stop_and_check_clean());
}
