// Exec mode: real programs in other languages (tests/apps: Node.js and
// Python servers written only against their standard libraries, and one that
// never says it is ready) run under `clusterd -- COMMAND`, get the socket by
// systemd's socket-activation protocol, speak sd_notify, and are killed,
// hung, reloaded under load and stopped with real signals.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <map>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/binary_copy.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/proc_files.hpp"
#include "tests/support/test_user.hpp"
#include "tests/support/shm_entries.hpp"
#include "tests/support/wrk_load.hpp"

using namespace clusterd::test;

namespace {

struct App {
    const char* name;
    std::vector<std::string> command;
    const char* listening_line;  // what it prints once it serves
};

App node_app() { return {"node", {"node", CLUSTERD_TEST_APPS "/node_server.js"}, "listening on fd 3 (LISTEN_FDS=1, LISTEN_PID="}; }
App python_app() { return {"python", {"python3", CLUSTERD_TEST_APPS "/python_server.py"}, "serving on fd 3"}; }

std::vector<std::string> with_command(std::vector<std::string> options, const App& app) {
    options.emplace_back("--");
    options.insert(options.end(), app.command.begin(), app.command.end());
    return options;
}

// NAME=value entries of a live process's environment (we are root or its uid).
std::map<std::string, std::string> environment_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ");
    std::map<std::string, std::string> entries;
    std::string entry;
    while (std::getline(in, entry, '\0')) {
        const auto equals = entry.find('=');
        if (equals != std::string::npos) entries[entry.substr(0, equals)] = entry.substr(equals + 1);
    }
    return entries;
}

std::set<std::string> workers_answering(std::uint16_t port, std::size_t want) {
    std::set<std::string> seen;
    for (int i = 0; i < 200 && seen.size() < want; ++i) {
        HttpClient client(port);  // a new connection each time: the kernel spreads them
        const auto response = client.get("/");
        if (response.status == 200 && response.header("X-Served-By")) seen.insert(*response.header("X-Served-By"));
    }
    return seen;
}

void skip_without(const char* program) {
    if (std::system((std::string("command -v ") + program + " >/dev/null 2>&1").c_str()) != 0) {
        FAIL(std::string(program) + " is not installed (make test installs it)");
    }
}

}  // namespace

TEST_CASE("a program under clusterd gets the socket and its variables by systemd's protocol and serves on it",
          "[crash][exec]") {
    const App app = GENERATE(node_app(), python_app());
    INFO(app.name);
    skip_without(app.command[0].c_str());
    Daemon daemon(with_command({"--workers", "2"}, app));
    const auto workers = daemon.wait_for_workers(2);
    REQUIRE(workers.size() == 2);
    CHECK(workers_answering(daemon.port(), 2).size() == 2);
    CHECK(daemon.wait_for_log(std::regex(R"(\[worker [01] \d+\] .*)" + std::regex_replace(app.listening_line,
                                                                                          std::regex(R"([()])"), R"(\$&)"))));
    for (pid_t pid : workers) {
        auto env = environment_of(pid);
        CHECK(env["LISTEN_FDS"] == "1");
        CHECK(env["LISTEN_PID"] == std::to_string(pid));  // the program's own pid: the shim exec'd it
        CHECK(env["LISTEN_FDNAMES"] == "http");
        CHECK(env["CLUSTERD_NOTIFY_FD"] == "4");
        CHECK((env["CLUSTERD_WORKER_INDEX"] == "0" || env["CLUSTERD_WORKER_INDEX"] == "1"));
        CHECK(env["CLUSTERD_GENERATION"] == "1");
        CHECK(env.count("NOTIFY_SOCKET") == 1);
        CHECK(env.count("WATCHDOG_USEC") == 1);  // the default --hang-timeout watches it once it pings
        CHECK(std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/fd/0") == "/dev/null");
        // A program is no clusterd child: the shared memory never reaches it.
        CHECK(segment_memfds(pid, "header").empty());
        CHECK(segment_memfds(pid, "body").empty());
    }
    // SIGTERM: each closes its server and exits on its own, then the supervisor.
    REQUIRE(daemon.send_signal(SIGTERM));
    const auto status = daemon.wait_exit(15s);
    REQUIRE(status);
    CHECK(status->clean());
    CHECK(daemon.count_log(std::regex(R"(worker \d+ \(pid \d+\) exited with code 0 .*\(draining\))")) == 2);
    CHECK(daemon.no_worker_left());
}

TEST_CASE("a killed program is replaced at once and one whose watchdog pings stop is killed and replaced",
          "[crash][exec]") {
    const App app = GENERATE(node_app(), python_app());
    INFO(app.name);
    skip_without(app.command[0].c_str());
    Daemon daemon(with_command({"--workers", "2", "--hang-timeout", "1s"}, app));
    auto before = daemon.wait_for_workers(2);
    REQUIRE(before.size() == 2);
    REQUIRE(::kill(before[0], SIGKILL) == 0);
    CHECK(daemon.wait_for_log(std::regex(R"(worker \d+ \(pid \d+\) killed by SIGKILL)")));
    CHECK(daemon.wait_for_replacement(before, 2));
    CHECK(daemon.wait_for_log("all 2 workers ready", startup_timeout, 2));

    before = daemon.wait_for_workers(2);
    // Watched from its first ping on: wait until both current workers have pinged.
    for (pid_t pid : before) {
        CHECK(daemon.wait_for_log("(pid " + std::to_string(pid) + ") sent its first WATCHDOG=1"));
    }
    CHECK(HttpClient(daemon.port()).get("/stop-pinging").status == 200);
    CHECK(daemon.wait_for_log(std::regex(R"(worker \d+ \(pid \d+\) hung: no heartbeat for .*; its last output: )")));
    CHECK(daemon.wait_for_replacement(before, 2));
    CHECK(workers_answering(daemon.port(), 1).size() == 1);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("rolling reloads of a program under keep-alive load fail no request", "[crash][exec]") {
    const App app = GENERATE(node_app(), python_app());
    INFO(app.name);
    skip_without(app.command[0].c_str());
    if (!wrk_installed()) FAIL("wrk is not installed (make test installs it)");
    Daemon daemon(with_command({"--workers", "2"}, app));
    WrkLoad load(daemon.port(), 8, 6s);
    std::this_thread::sleep_for(500ms);
    int completed = 0;
    for (int i = 1; i <= 3; ++i) {
        if (!daemon.send_signal(SIGHUP) || !daemon.wait_for_log("reload complete", 20s, static_cast<unsigned>(i))) break;
        completed = i;
    }
    const std::string wrk = load.finish();
    INFO(wrk);
    CHECK(completed == 3);
    CHECK(wrk.find(" requests in ") != std::string::npos);
    CHECK(wrk.find("Socket errors") == std::string::npos);
    CHECK(wrk.find("Non-2xx") == std::string::npos);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a program that never says it is ready fails its start deadline and is backed off", "[crash][exec]") {
    DaemonOptions options;
    options.args = {"--workers", "1", "--start-timeout", "400ms", "--backoff-initial", "100ms",
                    "--",        CLUSTERD_TEST_APPS "/silent_server.sh"};
    options.wait_ready = false;
    Daemon daemon(options);
    CHECK(daemon.wait_for_log(std::regex(
        R"(worker 0 \(pid \d+\) is not ready .* after it started \(--start-timeout: it never sent READY=1\); killing it)")));
    CHECK(daemon.wait_for_log(std::regex(R"(worker 0 \(pid \d+\) killed by SIGKILL .*its last output: "silent server)")));
    CHECK(daemon.wait_for_log(std::regex(R"(worker 0: backing off)")));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a silent program is made ready by --ready=delay once it has lived that long", "[crash][exec]") {
    Daemon daemon({"--workers", "1", "--ready", "delay:300ms", "--", CLUSTERD_TEST_APPS "/silent_server.sh"});
    CHECK(daemon.wait_for_log(std::regex(R"(worker 0 \(pid \d+\) ready in \d+)")));
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a notify message from outside a worker's process tree is refused", "[crash][exec]") {
    skip_without("python3");
    Daemon daemon(with_command({"--workers", "1"}, python_app()));
    const auto workers = daemon.wait_for_workers(1);
    REQUIRE(workers.size() == 1);
    const std::string path = environment_of(workers[0])["NOTIFY_SOCKET"];
    REQUIRE(!path.empty());
    // This test process is no descendant of the worker: a neighbour that found the path.
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path.front() == '@');  // abstract: nothing on disk to leave behind or plant
    REQUIRE(path.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, path.c_str(), path.size());
    address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    const std::string forged = "WATCHDOG=trigger";
    CHECK(::sendto(fd, forged.data(), forged.size(), 0, reinterpret_cast<const sockaddr*>(&address), length) ==
          static_cast<ssize_t>(forged.size()));
    ::close(fd);
    CHECK(daemon.wait_for_log("which is not the worker"));
    CHECK(daemon.worker_pids() == workers);  // not killed on a stranger's word
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a command that cannot be run is refused at start with exit code 2", "[crash][exec]") {
    const std::string not_executable = std::filesystem::temp_directory_path() / "clusterd-exec-test-not-executable";
    std::ofstream(not_executable) << "#!/bin/sh\n";
    std::filesystem::permissions(not_executable, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const auto [command, reason] = GENERATE_COPY(table<std::string, std::string>({
        {"/nonexistent/server", "No such file or directory"},
        {"no-such-program-anywhere", "is not found on PATH"},
        {not_executable, "is not executable"},
        {"/tmp", "is not a regular file"},
    }));
    auto refused = run_clusterd({"--", command});
    std::filesystem::remove(not_executable);
    REQUIRE(refused);
    CHECK(refused->status.code == 2);
    CHECK_THAT(refused->output, Catch::Contains("the command cannot be run") && Catch::Contains(reason));
}

TEST_CASE("exec mode's options are checked and named when wrong", "[crash][exec]") {
    const auto [args, message] = GENERATE(table<std::vector<std::string>, std::string>({
        {{"--ready", "sometimes", "--", "true"}, "--ready"},
        {{"--ready", "delay:0s", "--", "true"}, "--ready"},
        {{"--stop-signal", "SIGFOO", "--", "true"}, "--stop-signal"},
        {{"--model", "threads", "--", "true"}, "--model=threads has no meaning with a command"},
    }));
    auto refused = run_clusterd(args);
    REQUIRE(refused);
    CHECK(refused->status.code == 2);
    CHECK_THAT(refused->output, Catch::Contains(message));
}

TEST_CASE("exec in the config file runs the program, and a reload to one that cannot run is refused",
          "[crash][exec]") {
    skip_without("python3");
    const std::string path = std::filesystem::temp_directory_path() / ("clusterd-exec-" + std::to_string(::getpid()) + ".toml");
    std::ofstream(path) << "workers = 1\nexec = [\"python3\", \"" CLUSTERD_TEST_APPS "/python_server.py\"]\n";
    Daemon daemon({"--config", path});
    const auto before = daemon.wait_for_workers(1);
    REQUIRE(before.size() == 1);
    CHECK(HttpClient(daemon.port()).get("/").body.find("hello from python worker 0") == 0);
    std::ofstream(path) << "workers = 1\nexec = [\"/nonexistent/server\"]\n";
    REQUIRE(daemon.send_signal(SIGHUP));
    CHECK(daemon.wait_for_log(std::regex(R"(reload refused.*the command cannot be run: '/nonexistent/server')")));
    CHECK(daemon.worker_pids() == before);
    CHECK(HttpClient(daemon.port()).get("/").status == 200);
    if (std::system("command -v node >/dev/null 2>&1") == 0) {  // another command: applied, successor first
        std::ofstream(path) << "workers = 1\nexec = [\"node\", \"" CLUSTERD_TEST_APPS "/node_server.js\"]\n";
        REQUIRE(daemon.send_signal(SIGHUP));
        CHECK(daemon.wait_for_log("reload complete"));
        // The predecessor drains after its successor is ready and may still take a connection
        // until its SIGTERM lands: ask once it is gone (the fresh-clone run caught that window).
        CHECK(eventually([&] { return !process_alive(before[0]); }, 20s));
        CHECK(HttpClient(daemon.port()).get("/").body.find("hello from node worker") == 0);
    }
    std::filesystem::remove(path);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("as root with --user the program runs as a dedicated user with no capability and no new privileges",
          "[crash][exec][privileges]") {
    skip_without("python3");
    if (::geteuid() != 0) {
        WARN("not running as root; privilege separation cannot be tested here");
        return;
    }
    std::string why;
    const auto user = dedicated_test_user(&why);
    if (!user) FAIL(why);
    BinaryCopy binary;  // in a directory the user may enter, as the program must be
    const std::string script = std::filesystem::path(binary.path()).parent_path() / "python_server.py";
    std::filesystem::copy_file(CLUSTERD_TEST_APPS "/python_server.py", script);
    Daemon daemon({"--workers", "2", "--user", user->name, "--", "python3", script});
    const auto workers = daemon.wait_for_workers(2);
    REQUIRE(workers.size() == 2);
    CHECK(status_field(daemon.pid(), "Uid") == "0");  // the supervisor keeps root
    for (pid_t pid : workers) {
        INFO("program pid " << pid);
        CHECK(status_field(pid, "Uid") == std::to_string(user->uid));
        CHECK(status_field(pid, "Gid") == std::to_string(user->gid));
        CHECK(status_field(pid, "NoNewPrivs") == "1");
        CHECK(status_field(pid, "CapEff") == "0000000000000000");
        CHECK(status_field(pid, "CapPrm") == "0000000000000000");
        CHECK(status_field(pid, "CapBnd") == "0000000000000000");
        CHECK(environment_of(pid)["LISTEN_PID"] == std::to_string(pid));
    }
    CHECK(workers_answering(daemon.port(), 2).size() == 2);
    REQUIRE(daemon.send_signal(SIGTERM));
    const auto status = daemon.wait_exit(15s);
    REQUIRE(status);
    CHECK(status->clean());
    CHECK(daemon.no_worker_left());
}

TEST_CASE("a program past --max-worker-memory is replaced successor first, and no request fails", "[crash][exec]") {
    skip_without("python3");
    if (!wrk_installed()) FAIL("wrk is not installed (make test installs it)");
    // Every python is above 1 MiB: each is recycled as soon as the supervisor reads its RSS.
    Daemon daemon(with_command({"--workers", "2", "--max-worker-memory", "1MiB"}, python_app()));
    const auto first = daemon.wait_for_workers(2);
    REQUIRE(first.size() == 2);
    WrkLoad load(daemon.port(), 8, 4s);
    CHECK(daemon.wait_for_log(std::regex(R"(worker \d+ \(pid \d+\): RSS \d+ MiB is above --max-worker-memory)"),
                              startup_timeout, 2));
    CHECK(daemon.wait_for_replacement(first, 2));
    const std::string wrk = load.finish();
    INFO(wrk);
    CHECK(wrk.find(" requests in ") != std::string::npos);
    CHECK(wrk.find("Socket errors") == std::string::npos);
    CHECK(wrk.find("Non-2xx") == std::string::npos);
    CHECK(daemon.stop_and_check_clean());
}
