// The child contract: a child's configuration is the text the supervisor
// accepted, read back through the same option table, and nothing else.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/child_contract.hpp"
#include "common/config.hpp"

using namespace clusterd;

namespace {

std::variant<Config, ExitRequest> parse_words(std::vector<std::string> words) {
    words.insert(words.begin(), "clusterd");
    std::vector<const char*> argv;
    for (auto& word : words) argv.push_back(word.c_str());
    return parse_config(static_cast<int>(argv.size()), argv.data());
}

Config parsed(std::vector<std::string> words) {
    auto result = parse_words(std::move(words));
    if (auto* exit = std::get_if<ExitRequest>(&result)) FAIL(exit->text);
    return std::get<Config>(result);
}

// What the supervisor's spawn hands a worker in slot 3, generation 9.
Config as_child(const Config& accepted, unsigned listen_count = 1,
                std::optional<child::Identity> run_as = std::nullopt) {
    return parsed(child::argv_for({"worker", 3, 9, 42, listen_count, accepted.accepted, 20, 21, run_as}));
}

// What the child must have: the accepted configuration plus its contract.
Config expected_child(Config accepted, unsigned listen_count = 1) {
    accepted.role = Role::worker;
    accepted.slot = 3;
    accepted.generation = 9;
    accepted.supervisor_pid = 42;
    accepted.listen_fds = listen_count;
    accepted.shm_header_fd = 20;
    accepted.shm_body_fd = 21;
    accepted.args.clear();
    accepted.cpus = 0;  // the supervisor's CPU count made the defaults; a child is given their values
    return accepted;
}

struct ScopedEnv {
    std::string name;
    ScopedEnv(std::string n, const char* value) : name(std::move(n)) { setenv(name.c_str(), value, 1); }
    ~ScopedEnv() { unsetenv(name.c_str()); }
};

struct TempFile {
    std::string path;
    explicit TempFile(const std::string& text) {
        char name[] = "/tmp/clusterd-config-XXXXXX";
        const int fd = mkstemp(name);
        REQUIRE(fd >= 0);
        ::close(fd);
        path = name;
        write(text);
    }
    void write(const std::string& text) const { std::ofstream(path) << text; }
    ~TempFile() { ::unlink(path.c_str()); }
};

}  // namespace

TEST_CASE("a child reads back exactly the configuration the supervisor accepted", "[common][child_contract]") {
    const std::vector<std::string> args = GENERATE(values<std::vector<std::string>>({
        {},
        {"--workers", "3", "--listen", "[::1]:0", "--shutdown-timeout", "1500ms", "--max-body-size", "2KiB"},
        {"--compute", "processes", "--compute-processes", "2", "--compute-queue", "7", "--log-level", "debug"},
        {"--model", "threads", "--workers", "4", "--hang-timeout", "0", "--core-on-hang"},
        {"--enable-fault-injection", "--crash-after-requests", "5", "--max-worker-memory", "512MiB"},
        {"--max-requests", "100", "--max-requests-jitter", "10", "--no-scoreboard-counters"},
        {"--user", "nobody", "--group", "nogroup", "--log-file", "/tmp/a file \"quoted\".log"},
        {"--allow-root", "--backoff-initial", "1s", "--backoff-max", "2m", "--breaker-deaths", "9"},
        {"--compute-threads", "auto", "--workers", "1", "--compute-policy", "idle", "--compute-nice", "5"},
        {"--compute-threads", "3", "--compute-policy", "other"},
        {"--admin-listen", "127.0.0.1:0", "--admin-only-metrics", "--send-timeout", "3s", "--drain-delay", "1s"},
        {"--name", "web", "--control-socket", "/tmp/a:b c"},
        {"--ready", "delay:2s", "--stop-signal", "SIGINT", "--", "/bin/sh", "-c", "echo 'x  y'", ""},
    }));
    const Config accepted = parsed(args);
    INFO("accepted:\n" << accepted.accepted);
    CHECK(as_child(accepted) == expected_child(accepted));
    CHECK(as_child(accepted, 3) == expected_child(accepted, 3));
    // --run-as was acted on before the parse (api/run.cpp): the configuration is the same.
    CHECK(as_child(accepted, 1, child::Identity{4242, 4243, true}) == expected_child(accepted));
}

TEST_CASE("a child refuses a configuration its own binary did not write", "[common][child_contract]") {
    const Config accepted = parsed({"--workers", "2"});
    for (const std::string& bad : {std::string("workers=2\n"), accepted.accepted.substr(0, accepted.accepted.size() - 3),
                                   accepted.accepted + "7 ", std::string("clusterd-config-1 ")}) {
        CAPTURE(bad);
        const auto result = parse_words(child::argv_for({"worker", 3, 9, 42, 1, bad, 20, 21, std::nullopt}));
        REQUIRE(std::holds_alternative<ExitRequest>(result));
        CHECK(std::get<ExitRequest>(result).code == 2);
        CHECK(std::get<ExitRequest>(result).text.find("--accepted-config") != std::string::npos);
    }
}

TEST_CASE("a child ignores the environment and the --config file", "[common][child_contract]") {
    TempFile file("workers = 2\nmax-body-size = \"4KiB\"\n");
    const Config accepted = parsed({"--config", file.path});
    REQUIRE(accepted.workers == 2);
    REQUIRE(accepted.max_body_size == 4096);
    // An edit nobody reloaded, and a variable set after the supervisor started.
    file.write("workers = 5\nmax-body-size = \"1\"\nenable-fault-injection = true\n");
    ScopedEnv later("CLUSTERD_IDLE_TIMEOUT", "1ms");
    const Config child = as_child(accepted);
    CHECK(child.workers == 2);
    CHECK(child.max_body_size == 4096);
    CHECK_FALSE(child.fault_injection);
    CHECK(child.idle_timeout == accepted.idle_timeout);
}

TEST_CASE("an unknown key in the --config file is refused, naming it", "[common][child_contract]") {
    TempFile file("workers = 2\nworkerz = 4\n");
    auto result = parse_words({"--config", file.path});
    REQUIRE(std::holds_alternative<ExitRequest>(result));
    CHECK(std::get<ExitRequest>(result).code == 2);
    CHECK_THAT(std::get<ExitRequest>(result).text, Catch::Contains("workerz"));
}

TEST_CASE("a child started without its contract arguments refuses to run", "[common][child_contract]") {
    auto result = parse_words({"--role", "worker", "--slot", "1"});
    REQUIRE(std::holds_alternative<ExitRequest>(result));
    CHECK(std::get<ExitRequest>(result).code == 2);
    auto garbage = parse_words(child::argv_for({"worker", 1, 1, 1, 1, "no-such-key = 3\n", 20, 21, std::nullopt}));
    REQUIRE(std::holds_alternative<ExitRequest>(garbage));
    CHECK_THAT(std::get<ExitRequest>(garbage).text, Catch::Contains("--accepted-config"));
}

TEST_CASE("a child's environment has no CLUSTERD_* and no NOTIFY_SOCKET", "[common][child_contract]") {
    const char* parent[] = {"PATH=/bin", "CLUSTERD_WORKERS=3", "NOTIFY_SOCKET=/run/x", "HOME=/root", nullptr};
    CHECK(child::environment_for(parent) == std::vector<std::string>{"PATH=/bin", "HOME=/root"});
}
