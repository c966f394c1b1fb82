// Configuration as an operator meets it: a bad option stops the daemon with
// exit code 2 and a sentence naming the problem; environment variables work,
// and the command line wins over them.
#include <catch2/catch.hpp>

#include "tests/support/config_file.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

struct BadOption {
    std::vector<std::string> args;
    std::vector<std::string> message_parts;  // each must appear in the output
};

}  // namespace

TEST_CASE("a bad option exits with code 2 and a message naming it", "[integration][config]") {
    const BadOption bad = GENERATE(values<BadOption>({
        {{"--listen", "127.0.0.1:0", "--workers", "0"}, {"--workers", "0"}},
        {{"--listen", "127.0.0.1:0", "--workers", "many"}, {"--workers", "many"}},
        {{"--listen", "127.0.0.1:0", "--shutdown-timeout", "10x"}, {"--shutdown-timeout", "'10x' is not a duration"}},
        {{"--listen", "127.0.0.1:0", "--max-header-size", "lots"}, {"--max-header-size", "'lots' is not a size"}},
        {{"--listen", "nonsense"}, {"--listen", "'nonsense' is not HOST:PORT"}},
        {{"--listen", "127.0.0.1:99999"}, {"--listen", "99999"}},
        {{"--listen", "127.0.0.1:0", "--log-level", "chatty"}, {"--log-level", "chatty"}},
        {{"--listen", "127.0.0.1:0", "--model", "fibers"}, {"--model", "fibers"}},
        {{"--listen", "127.0.0.1:0", "--no-such-option"}, {"--no-such-option"}},
        {{"--listen", "127.0.0.1:0", "--crash-at-start"}, {"--crash-at-start needs --enable-fault-injection"}},
        {{"--listen", "127.0.0.1:0", "--backoff-initial", "1m", "--backoff-max", "1s"},
         {"--backoff-initial", "--backoff-max"}},
    }));
    std::string command;
    for (const auto& arg : bad.args) command += " " + arg;
    INFO("clusterd" << command);

    auto result = run_clusterd(bad.args);
    REQUIRE(result.has_value());
    INFO("output: " << result->output);
    CHECK(result->status.to_string() == "exited with code 2");
    for (const auto& part : bad.message_parts) CHECK_THAT(result->output, Catch::Contains(part));
    CHECK_THAT(result->output, !Catch::Contains("listening on"));
}

TEST_CASE("a bad value in an environment variable exits with code 2 too", "[integration][config]") {
    auto result = run_clusterd({"--listen", "127.0.0.1:0"}, {{"CLUSTERD_SHUTDOWN_TIMEOUT", "soon"}});
    REQUIRE(result.has_value());
    INFO("output: " << result->output);
    CHECK(result->status.to_string() == "exited with code 2");
    CHECK_THAT(result->output, Catch::Contains("'soon' is not a duration"));
}

TEST_CASE("the help text documents the options and exits 0", "[integration][config]") {
    auto result = run_clusterd({"--help"});
    REQUIRE(result.has_value());
    CHECK(result->status.to_string() == "exited with code 0");
    for (const char* option : {"--listen", "--workers", "--shutdown-timeout", "--drain-quiet", "--header-timeout",
                               "--idle-timeout", "--max-connections", "--enable-fault-injection"}) {
        CHECK_THAT(result->output, Catch::Contains(option));
    }
}

TEST_CASE("CLUSTERD_WORKERS in the environment sets the number of workers", "[integration][config]") {
    Daemon daemon(DaemonOptions{{}, {{"CLUSTERD_WORKERS", "3"}}, true, true, true, {}});
    CHECK(daemon.wait_for_log("all 3 workers ready"));
    CHECK(daemon.wait_for_workers(worker_processes(3)).size() == worker_processes(3));
    HttpClient client(daemon.port());
    CHECK(client.get("/").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("the command line wins over the environment", "[integration][config]") {
    Daemon daemon(DaemonOptions{{"--workers", "1"}, {{"CLUSTERD_WORKERS", "3"}}, true, true, true, {}});
    CHECK(daemon.wait_for_log("all 1 workers ready"));
    CHECK(daemon.wait_for_workers(worker_processes(1)).size() == worker_processes(1));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("CLUSTERD_LISTEN sets the address when --listen is absent", "[integration][config]") {
    Daemon daemon(DaemonOptions{{"--workers", "1"}, {{"CLUSTERD_LISTEN", "127.0.0.1:0"}}, false, true, true, {}});
    REQUIRE(daemon.port() != 0);
    HttpClient client(daemon.port());
    CHECK(client.get("/healthz").status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a port already in use is reported and the daemon exits non-zero", "[integration][config]") {
    Daemon first({"--workers", "1"});
    const std::string taken = "127.0.0.1:" + std::to_string(first.port());
    auto result = run_clusterd({"--listen", taken, "--workers", "1"});
    REQUIRE(result.has_value());
    INFO("output: " << result->output);
    CHECK_FALSE(result->status.clean());
    CHECK(result->status.exited);
    CHECK_THAT(result->output, Catch::Contains(taken));
    CHECK_THAT(result->output, Catch::Contains("Address already in use"));
    CHECK(first.stop_and_check_clean());
}

TEST_CASE("fault injection switched on from the environment or a config file is warned about and shown in /status",
          "[integration][config]") {
    ConfigFile file;
    file.write("enable-fault-injection = true\n");
    for (const auto& source : {std::string("environment"), std::string("config file")}) {
        INFO(source);
        DaemonOptions options;
        options.args = {"--workers", "1"};
        if (source == "environment") {
            options.env = {{"CLUSTERD_ENABLE_FAULT_INJECTION", "true"}};
        } else {
            options.args.insert(options.args.end(), {"--config", file.path()});
        }
        Daemon daemon(options);
        CHECK(daemon.count_log("FAULT INJECTION ENABLED") == 1);
        HttpClient client(daemon.port());
        const auto status = client.get("/status");
        CHECK(status.body.find("\"fault_injection\": true") != std::string::npos);
        CHECK(daemon.stop_and_check_clean());
    }

    Daemon plain({"--workers", "1"});
    CHECK(plain.count_log("FAULT INJECTION") == 0);
    CHECK(HttpClient(plain.port()).get("/status").body.find("\"fault_injection\": false") != std::string::npos);
    CHECK(plain.stop_and_check_clean());
}
