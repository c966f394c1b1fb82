#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/config_image.hpp"
#include "common/executor_counts.hpp"

using namespace std::chrono_literals;
using namespace clusterd;

namespace {

std::variant<Config, ExitRequest> parse(std::vector<std::string> words) {
    words.insert(words.begin(), "clusterd");
    std::vector<const char*> argv;
    for (auto& word : words) argv.push_back(word.c_str());
    return parse_config(static_cast<int>(argv.size()), argv.data());
}

Config parse_ok(std::vector<std::string> words) {
    auto result = parse(std::move(words));
    if (auto* exit = std::get_if<ExitRequest>(&result)) FAIL(exit->text);
    return std::get<Config>(result);
}

ExitRequest parse_refused(std::vector<std::string> words) {
    auto result = parse(std::move(words));
    REQUIRE(std::holds_alternative<ExitRequest>(result));
    return std::get<ExitRequest>(result);
}

// Sets an environment variable for one test and restores it after.
struct ScopedEnv {
    std::string name;
    ScopedEnv(std::string n, const char* value) : name(std::move(n)) { setenv(name.c_str(), value, 1); }
    ~ScopedEnv() { unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("defaults: 127.0.0.1:8080, one worker per CPU, supervisor role", "[common][config]") {
    Config config = parse_ok({});
    REQUIRE(config.listen.host == "127.0.0.1");
    REQUIRE(config.listen.port == 8080);
    REQUIRE(config.workers >= 1);
    REQUIRE(config.role == Role::supervisor);
    REQUIRE(config.shutdown_timeout == 10s);
    REQUIRE_FALSE(config.fault_injection);
}

TEST_CASE("options parse into typed values", "[common][config]") {
    Config config = parse_ok({"--listen", "[::1]:0", "--workers", "3", "--shutdown-timeout", "1500ms",
                              "--max-header-size", "16KiB", "--log-level", "debug", "--enable-fault-injection"});
    REQUIRE(config.listen.host == "::1");
    REQUIRE(config.listen.port == 0);
    REQUIRE(config.workers == 3);
    REQUIRE(config.shutdown_timeout == 1500ms);
    REQUIRE(config.max_header_size == 16 * 1024);
    REQUIRE(config.log_level == spdlog::level::debug);
    REQUIRE(config.fault_injection);
    REQUIRE(config.args.size() == 11);
}

TEST_CASE("every option can come from CLUSTERD_<NAME>, and the command line wins", "[common][config]") {
    ScopedEnv workers("CLUSTERD_WORKERS", "7");
    ScopedEnv timeout("CLUSTERD_IDLE_TIMEOUT", "2m");
    REQUIRE(parse_ok({}).workers == 7);
    REQUIRE(parse_ok({}).idle_timeout == 120s);
    REQUIRE(parse_ok({"--workers", "2"}).workers == 2);
}

TEST_CASE("a bad value is refused with exit code 2 and a message naming the option", "[common][config]") {
    using Case = std::pair<std::vector<std::string>, std::string>;
    auto [words, expected] = GENERATE(values<Case>({
        {{"--workers", "0"}, "--workers"},
        {{"--workers", "many"}, "--workers"},
        {{"--shutdown-timeout", "10x"}, "'10x' is not a duration"},
        {{"--listen", "nonsense"}, "is not HOST:PORT"},
        {{"--listen", "127.0.0.1:99999"}, "not a number from 0 to 65535"},
        {{"--max-body-size", "lots"}, "'lots' is not a size"},
        {{"--log-level", "loud"}, "--log-level"},
        {{"--no-such-option"}, "--no-such-option"},
        {{"--crash-at-start"}, "--crash-at-start needs --enable-fault-injection"},
        {{"--backoff-initial", "10s", "--backoff-max", "1s"}, "is larger than --backoff-max"},
    }));
    CAPTURE(words);
    ExitRequest refused = parse_refused(words);
    REQUIRE(refused.code == 2);
    REQUIRE_THAT(refused.text, Catch::Contains(expected));
}

TEST_CASE("the help text lists every option with its default and exits 0", "[common][config]") {
    ExitRequest help = parse_refused({"--help"});
    REQUIRE(help.code == 0);
    for (const char* option : {"--listen", "--workers", "--shutdown-timeout", "--min-uptime", "--breaker-deaths",
                               "--header-timeout", "--idle-timeout", "--max-connections", "--log-level"}) {
        REQUIRE_THAT(help.text, Catch::Contains(option));
    }
    REQUIRE_THAT(help.text, Catch::Contains("=127.0.0.1:8080"));
    REQUIRE_THAT(help.text, Catch::Contains("CLUSTERD_SHUTDOWN_TIMEOUT"));
    REQUIRE_THAT(help.text, !Catch::Contains("--supervisor-pid"));  // internal
}

TEST_CASE("an unknown CLUSTERD_* variable is refused with exit code 2, naming it", "[common][config]") {
    ScopedEnv typo("CLUSTERD_WORKER", "8");
    const ExitRequest refused = parse_refused({});
    CHECK(refused.code == 2);
    CHECK_THAT(refused.text, Catch::Contains("CLUSTERD_WORKER"));
}

TEST_CASE("the variables of every option, --config and the upgrade hand-over are known", "[common][config]") {
    const char* known = GENERATE("CLUSTERD_WORKERS", "CLUSTERD_CONFIG", "CLUSTERD_UPGRADE_READY_FD",
                                 "CLUSTERD_HANG_TIMEOUT", "CLUSTERD_MAX_WORKER_MEMORY");
    INFO(known);
    // CLUSTERD_CONFIG names a file: one that exists, and is empty.
    ScopedEnv set(known, std::string(known) == "CLUSTERD_CONFIG" ? "/dev/null"
                         : std::string(known) == "CLUSTERD_HANG_TIMEOUT" ? "1s" : "3");
    (void)parse_ok({});
}

TEST_CASE("the serving model (--model) is processes by default, threads when asked, and nothing else",
          "[common][config]") {
    CHECK(parse_ok({}).model == ServingModel::processes);
    CHECK(parse_ok({"--model", "threads", "--workers", "4"}).model == ServingModel::threads);
    CHECK(parse_ok({"--model=processes"}).model == ServingModel::processes);
    const ExitRequest refused = parse_refused({"--model", "fibers"});
    CHECK(refused.code == 2);
    CHECK_THAT(refused.text, Catch::Contains("--model") && Catch::Contains("fibers"));
    CHECK(std::string(to_string(ServingModel::threads)) == "threads");
}

TEST_CASE("all compute pools together default to about one thread per CPU, at least one per event loop",
          "[common][config][executors]") {
    CHECK(default_compute_threads(8, 1) == 8);
    CHECK(default_compute_threads(8, 2) == 4);
    CHECK(default_compute_threads(8, 3) == 2);
    CHECK(default_compute_threads(8, 8) == 1);
    CHECK(default_compute_threads(2, 16) == 1);
    CHECK(default_compute_threads(0, 0) == 1);
    const Config defaults = parse_ok({});
    REQUIRE(defaults.cpus >= 1);
    CHECK(defaults.workers == defaults.cpus);
    CHECK(defaults.compute_threads == 1);  // N loops on N CPUs: one thread each, not N
    CHECK(executor_counts(defaults).total == defaults.cpus);
    const Config one_loop = parse_ok({"--workers", "1"});
    CHECK(one_loop.compute_threads == one_loop.cpus);
    CHECK(parse_ok({"--workers", "1", "--compute-threads", "auto"}).compute_threads == one_loop.cpus);
    CHECK(parse_ok({"--compute-threads", "5"}).compute_threads == 5);
    // The thread count follows the loops of --model=threads the same way.
    const Config threads_model = parse_ok({"--model", "threads", "--workers", "1"});
    CHECK(threads_model.compute_threads == threads_model.cpus);
    CHECK(parse_refused({"--compute-threads", "0"}).text.find("--compute-threads") != std::string::npos);
    CHECK(parse_refused({"--compute-threads", "many"}).code == 2);
}

TEST_CASE("the children are given the resolved thread count, never auto", "[common][config][executors]") {
    const Config config = parse_ok({"--workers", "1"});
    const auto given = decode_config(config.accepted);
    REQUIRE(given);
    CHECK(given->compute_threads == config.cpus);
}

TEST_CASE("executor counts: a pool per loop, compute processes shared, inline the loop itself",
          "[common][config][executors]") {
    const Config threads = parse_ok({"--workers", "3", "--compute-threads", "2"});
    CHECK(executor_counts(threads).per_worker == 2);
    CHECK(executor_counts(threads).total == 6);
    const Config processes = parse_ok({"--workers", "3", "--compute", "processes", "--compute-processes", "2"});
    CHECK(executor_counts(processes).per_worker == 2);
    CHECK(executor_counts(processes).total == 2);
    const Config inline_loop = parse_ok({"--workers", "3", "--compute", "inline"});
    CHECK(executor_counts(inline_loop).total == 3);
}

TEST_CASE("compute threads and processes are SCHED_BATCH by default, or idle, other and a nice value when asked",
          "[common][config][executors]") {
    CHECK(parse_ok({}).compute_policy == ComputePolicy::batch);
    CHECK(parse_ok({}).compute_nice == 0);
    CHECK(parse_ok({"--compute-policy", "idle"}).compute_policy == ComputePolicy::idle);
    CHECK(parse_ok({"--compute-policy", "other", "--compute-nice", "7"}).compute_nice == 7);
    CHECK(parse_refused({"--compute-policy", "fifo"}).code == 2);
    CHECK(parse_refused({"--compute-nice", "20"}).code == 2);
    CHECK(std::string(to_string(ComputePolicy::idle)) == "idle");
}
