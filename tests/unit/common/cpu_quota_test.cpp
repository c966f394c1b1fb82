#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/cpu_quota.hpp"

using namespace clusterd;
namespace fs = std::filesystem;

TEST_CASE("cpu.max reads as CPUs, and max as no limit", "[common][cpu_quota]") {
    REQUIRE(parse_cpu_max("150000 100000\n") == Approx(1.5));
    REQUIRE(parse_cpu_max("200000 100000") == Approx(2.0));
    REQUIRE(parse_cpu_max("50000 100000") == Approx(0.5));
    REQUIRE_FALSE(parse_cpu_max("max 100000\n").has_value());
    auto garbage = GENERATE("", "max", "100000", "abc 100000", "100000 0", "-1 100000", "1 2 3");
    CAPTURE(garbage);
    REQUIRE_FALSE(parse_cpu_max(garbage).has_value());
}

TEST_CASE("a cfs quota of -1 is no limit", "[common][cpu_quota]") {
    REQUIRE(parse_cfs_quota("200000\n", "100000\n") == Approx(2.0));
    REQUIRE(parse_cfs_quota("25000", "100000") == Approx(0.25));
    REQUIRE_FALSE(parse_cfs_quota("-1\n", "100000\n").has_value());
    REQUIRE_FALSE(parse_cfs_quota("", "100000").has_value());
    REQUIRE_FALSE(parse_cfs_quota("100000", "zero").has_value());
}

TEST_CASE("the quota bounds the CPU count, rounded up and never below one", "[common][cpu_quota]") {
    REQUIRE(cpu_count_within_quota(16, std::nullopt) == 16);
    REQUIRE(cpu_count_within_quota(16, 2.0) == 2);
    REQUIRE(cpu_count_within_quota(16, 1.5) == 2);
    REQUIRE(cpu_count_within_quota(16, 0.25) == 1);
    REQUIRE(cpu_count_within_quota(2, 8.0) == 2);  // a quota above the CPUs changes nothing
    REQUIRE(cpu_count_within_quota(0, std::nullopt) == 1);
}

TEST_CASE("the cgroup path comes from the v2 line or the v1 hierarchy with the controller", "[common][cpu_quota]") {
    const char* hybrid = "9:name=systemd:/x\n4:cpu,cpuacct:/docker/abc\n0::/user.slice\n";
    REQUIRE(cgroup_path(hybrid, "cpu") == "/docker/abc");
    REQUIRE(cgroup_path(hybrid, "cpuacct") == "/docker/abc");
    REQUIRE(cgroup_path(hybrid, "") == "/user.slice");
    REQUIRE_FALSE(cgroup_path("4:memory:/a\n", "cpu").has_value());
    REQUIRE_FALSE(cgroup_path("", "").has_value());
    REQUIRE_FALSE(cgroup_path("garbage", "cpu").has_value());
}

namespace {

struct FakeCgroupTree {
    fs::path root = fs::temp_directory_path() / ("clusterd-cpu-quota-" + std::to_string(::getpid()));
    FakeCgroupTree() { fs::create_directories(root); }
    ~FakeCgroupTree() { fs::remove_all(root); }
    void write(const std::string& relative, const std::string& text) const {
        const fs::path file = root / relative;
        fs::create_directories(file.parent_path());
        std::ofstream(file) << text;
    }
};

}  // namespace

TEST_CASE("cgroup v2: the tightest cpu.max from the process's cgroup up to the root", "[common][cpu_quota]") {
    FakeCgroupTree tree;
    tree.write("sys/cgroup.controllers", "cpu memory pids\n");
    tree.write("proc-self-cgroup", "0::/kubepods/pod1/ctr\n");
    const auto limit = [&] {
        return read_cgroup_cpu_limit((tree.root / "sys").string(), (tree.root / "proc-self-cgroup").string());
    };
    SECTION("no level sets a quota") {
        tree.write("sys/kubepods/pod1/ctr/cpu.max", "max 100000\n");
        REQUIRE_FALSE(limit().has_value());
    }
    SECTION("the container's own quota") {
        tree.write("sys/kubepods/pod1/ctr/cpu.max", "150000 100000\n");
        REQUIRE(limit() == Approx(1.5));
    }
    SECTION("a parent's quota that is tighter") {
        tree.write("sys/kubepods/pod1/ctr/cpu.max", "400000 100000\n");
        tree.write("sys/kubepods/pod1/cpu.max", "100000 100000\n");
        REQUIRE(limit() == Approx(1.0));
    }
    SECTION("inside a cgroup namespace the process's cgroup is the root") {
        tree.write("proc-self-cgroup", "0::/\n");
        tree.write("sys/cpu.max", "300000 100000\n");
        REQUIRE(limit() == Approx(3.0));
    }
}

TEST_CASE("cgroup v1: the cfs quota of the cpu hierarchy", "[common][cpu_quota]") {
    FakeCgroupTree tree;
    tree.write("proc-self-cgroup", "4:cpu,cpuacct:/docker/abc\n0::/\n");
    tree.write("sys/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    tree.write("sys/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
    const auto limit = [&] {
        return read_cgroup_cpu_limit((tree.root / "sys").string(), (tree.root / "proc-self-cgroup").string());
    };
    SECTION("no quota anywhere") { REQUIRE_FALSE(limit().has_value()); }
    SECTION("the container's cgroup") {
        tree.write("sys/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
        tree.write("sys/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n");
        REQUIRE(limit() == Approx(2.0));
    }
    SECTION("a container that sees its own cgroup mounted as the hierarchy's root") {
        tree.write("sys/cpu,cpuacct/cpu.cfs_quota_us", "50000\n");
        REQUIRE(limit() == Approx(0.5));
    }
}

TEST_CASE("no cgroup file system at all is no limit", "[common][cpu_quota]") {
    REQUIRE_FALSE(read_cgroup_cpu_limit("/nonexistent-clusterd", "/nonexistent-clusterd/cgroup").has_value());
}
