// How many CPUs this process may use, as the kernel will enforce it: the
// CPU count it may be scheduled on (uv_available_parallelism: the affinity
// mask) bounded by the CPU quota of its cgroup, when one is set. In a
// container or a Kubernetes pod with `resources.limits.cpu`, the quota is
// the real bound: 16 host CPUs and a 2-CPU limit mean 2, and 16 workers
// there would only be throttled by the CFS bandwidth controller.
//
// The parsers are pure (text in, number out) so tests feed them what the
// kernel writes; read_cgroup_cpu_limit() is the one function that reads
// files, from a root directory a test can replace.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace clusterd {

// cgroup v2 cpu.max: "max 100000" (no limit) or "150000 100000" (1.5 CPUs).
// nullopt for no limit and for text that is not a quota.
[[nodiscard]] std::optional<double> parse_cpu_max(std::string_view text);

// cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us: quota -1 is no limit.
[[nodiscard]] std::optional<double> parse_cfs_quota(std::string_view quota_us, std::string_view period_us);

// The cgroup of this process from /proc/self/cgroup: the path of the v2
// entry ("0::/kubepods/pod1/ctr") or of the v1 hierarchy that carries
// `controller` ("4:cpu,cpuacct:/docker/abc"). nullopt when absent.
[[nodiscard]] std::optional<std::string> cgroup_path(std::string_view proc_self_cgroup, std::string_view controller);

// The CPU count to default to: the available CPUs, bounded by the quota
// rounded up (a 1.5-CPU quota gives 2: a worker that waits on I/O leaves its
// share to the other, and one crash costs half the capacity, not all), and
// never less than 1.
[[nodiscard]] unsigned cpu_count_within_quota(unsigned available, std::optional<double> quota_cpus);

// The tightest CPU quota on the way from this process's cgroup up to the
// root of the hierarchy mounted at `cgroup_root` (cgroup v2 first, then the
// v1 cpu controller at cgroup_root/cpu or cgroup_root/cpu,cpuacct).
// nullopt when no level sets one or nothing can be read.
[[nodiscard]] std::optional<double> read_cgroup_cpu_limit(const std::string& cgroup_root = "/sys/fs/cgroup",
                                                          const std::string& proc_self_cgroup = "/proc/self/cgroup");

}  // namespace clusterd
