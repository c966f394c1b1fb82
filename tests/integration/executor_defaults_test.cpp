// The default executor counts and the scheduling of compute work, on a real
// daemon: all compute pools together default to one thread per CPU (at least
// one per event loop), as /status reports and /proc shows, and every compute
// thread and compute process runs under --compute-policy (SCHED_BATCH by
// default) while the event loops keep the normal policy. The CPU count is
// set from outside with taskset (the affinity mask the supervisor reads).
#include <catch2/catch.hpp>
#include <dirent.h>
#include <sched.h>
#include <sys/resource.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

// The first `count` CPUs this process may run on, as taskset's list ("0,1"); empty if it has fewer.
std::string allowed_cpus(unsigned count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
    std::string list;
    unsigned found = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && found < count; ++cpu) {
        if (!CPU_ISSET(cpu, &set)) continue;
        list += (list.empty() ? "" : ",") + std::to_string(cpu);
        ++found;
    }
    return found == count ? list : std::string{};
}

DaemonOptions on_cpus(const std::string& cpus, std::vector<std::string> args) {
    DaemonOptions options;
    options.args = std::move(args);
    options.launcher = {"/usr/bin/taskset", "-c", cpus};
    return options;
}

nlohmann::json executors(const Daemon& daemon) {
    HttpClient client(daemon.port());
    const HttpResponse status = client.get("/status");
    REQUIRE(status.status == 200);
    return nlohmann::json::parse(status.body).at("compute").at("executors");
}

std::string read_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// The thread ids of process pid whose name starts with `prefix`.
std::vector<pid_t> threads_named(pid_t pid, const std::string& prefix) {
    std::vector<pid_t> tids;
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* tasks = opendir(dir.c_str());
    if (tasks == nullptr) return tids;
    while (const dirent* entry = readdir(tasks)) {
        if (entry->d_name[0] == '.') continue;
        if (read_line(dir + "/" + entry->d_name + "/comm").rfind(prefix, 0) == 0) tids.push_back(std::stoi(entry->d_name));
    }
    closedir(tasks);
    return tids;
}

bool is_compute_process(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return cmdline.find(std::string("--role") + '\0' + "compute") != std::string::npos;
}

int nice_of(pid_t tid) {
    errno = 0;
    const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    REQUIRE(errno == 0);
    return nice;
}

}  // namespace

TEST_CASE("by default all compute pools together run one thread per CPU, at least one per event loop",
          "[integration][compute][executors]") {
    SECTION("2 workers on 1 CPU: one thread each, not one per CPU each") {
        const std::string cpu = allowed_cpus(1);
        Daemon daemon(on_cpus(cpu, {"--workers", "2"}));
        const auto counts = executors(daemon);
        CHECK(counts.at("per_worker") == 1);
        CHECK(counts.at("total") == 2);
        for (pid_t worker : daemon.wait_for_workers(2)) CHECK(threads_named(worker, "compute-").size() == 1);
    }
    SECTION("1 worker on 2 CPUs: the one pool gets both") {
        const std::string cpus = allowed_cpus(2);
        if (cpus.empty()) {
            WARN("fewer than 2 CPUs here: not checked");
            return;
        }
        Daemon daemon(on_cpus(cpus, {"--workers", "1"}));
        const auto counts = executors(daemon);
        CHECK(counts.at("per_worker") == 2);
        CHECK(counts.at("total") == 2);
        const auto workers = daemon.wait_for_workers(1);
        REQUIRE(workers.size() == 1);
        CHECK(threads_named(workers.front(), "compute-").size() == 2);
    }
    SECTION("2 workers on 2 CPUs (the default --workers): one each, 2 in all") {
        const std::string cpus = allowed_cpus(2);
        if (cpus.empty()) {
            WARN("fewer than 2 CPUs here: not checked");
            return;
        }
        Daemon daemon(on_cpus(cpus, {}));
        const auto counts = executors(daemon);
        CHECK(counts.at("per_worker") == 1);
        CHECK(counts.at("total") == 2);
    }
    SECTION("compute processes: one per CPU, shared by every worker") {
        const std::string cpus = allowed_cpus(2);
        if (cpus.empty()) {
            WARN("fewer than 2 CPUs here: not checked");
            return;
        }
        Daemon daemon(on_cpus(cpus, {"--workers", "1", "--compute", "processes"}));
        const auto counts = executors(daemon);
        CHECK(counts.at("total") == 2);
        unsigned compute = 0;
        for (pid_t pid : daemon.wait_for_workers(3)) compute += is_compute_process(pid) ? 1 : 0;
        CHECK(compute == 2);
    }
}

TEST_CASE("compute threads run SCHED_BATCH by default, or as --compute-policy says, while the loop stays SCHED_OTHER",
          "[integration][compute][executors]") {
    const auto [policy_option, policy, nice] = GENERATE(table<std::string, int, int>({
        {"batch", SCHED_BATCH, 0},
        {"idle", SCHED_IDLE, 0},
        {"other", SCHED_OTHER, 7},
    }));
    CAPTURE(policy_option);
    std::vector<std::string> args{"--workers", "1", "--compute-threads", "2", "--compute-policy", policy_option};
    if (nice != 0) args.insert(args.end(), {"--compute-nice", std::to_string(nice)});
    Daemon daemon(args);
    CHECK(executors(daemon).at("policy") == policy_option);
    const auto workers = daemon.wait_for_workers(1);
    REQUIRE(workers.size() == 1);
    const pid_t worker = workers.front();
    const auto pool = threads_named(worker, "compute-");
    REQUIRE(pool.size() == 2);
    for (pid_t tid : pool) {
        CHECK(sched_getscheduler(tid) == policy);
        CHECK(nice_of(tid) == nice);
    }
    CHECK(sched_getscheduler(worker) == SCHED_OTHER);  // the event loop's own thread
    CHECK(nice_of(worker) == 0);
}

TEST_CASE("compute processes run SCHED_BATCH, every thread of them, and the HTTP workers do not",
          "[integration][compute][executors]") {
    Daemon daemon({"--workers", "1", "--compute", "processes", "--compute-processes", "1"});
    const auto children = daemon.wait_for_workers(2);
    REQUIRE(children.size() == 2);
    unsigned compute = 0;
    for (pid_t pid : children) {
        CAPTURE(pid);
        if (!is_compute_process(pid)) {
            CHECK(sched_getscheduler(pid) == SCHED_OTHER);
            continue;
        }
        ++compute;
        for (pid_t tid : threads_named(pid, "")) CHECK(sched_getscheduler(tid) == SCHED_BATCH);
    }
    CHECK(compute == 1);
}
