#include "common/cpu_quota.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace clusterd {
namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n')) text.remove_suffix(1);
    return text;
}

std::optional<long long> parse_integer(std::string_view text) {
    text = trim(text);
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::optional<double> quota_over_period(long long quota, long long period) {
    if (quota <= 0 || period <= 0) return std::nullopt;
    return static_cast<double>(quota) / static_cast<double>(period);
}

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::optional<double> tighter(std::optional<double> a, std::optional<double> b) {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}

// Every directory from root/path up to root itself, innermost first. A
// container usually sees its own cgroup as "/" (a cgroup namespace), so the
// root directory's own file counts too.
template <typename Read>
std::optional<double> tightest_on_the_way_up(const std::string& root, std::string path, Read read_level) {
    std::optional<double> limit;
    while (true) {
        limit = tighter(limit, read_level(root + path));
        if (path.empty() || path == "/") break;
        const auto slash = path.rfind('/');
        path = slash == std::string::npos || slash == 0 ? std::string{} : path.substr(0, slash);
    }
    return limit;
}

}  // namespace

std::optional<double> parse_cpu_max(std::string_view text) {
    text = trim(text);
    const auto space = text.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    const auto quota = text.substr(0, space);
    if (quota == "max") return std::nullopt;
    const auto q = parse_integer(quota);
    const auto p = parse_integer(text.substr(space + 1));
    if (!q || !p) return std::nullopt;
    return quota_over_period(*q, *p);
}

std::optional<double> parse_cfs_quota(std::string_view quota_us, std::string_view period_us) {
    const auto q = parse_integer(quota_us);
    const auto p = parse_integer(period_us);
    if (!q || !p) return std::nullopt;
    return quota_over_period(*q, *p);
}

std::optional<std::string> cgroup_path(std::string_view proc_self_cgroup, std::string_view controller) {
    while (!proc_self_cgroup.empty()) {
        const auto newline = proc_self_cgroup.find('\n');
        std::string_view line = proc_self_cgroup.substr(0, newline);
        proc_self_cgroup = newline == std::string_view::npos ? std::string_view{} : proc_self_cgroup.substr(newline + 1);
        // hierarchy-id:controller-list:path
        const auto first = line.find(':');
        const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
        if (second == std::string_view::npos) continue;
        const auto controllers = line.substr(first + 1, second - first - 1);
        const auto path = line.substr(second + 1);
        if (controller.empty()) {
            if (line.substr(0, first) == "0" && controllers.empty()) return std::string(path);
            continue;
        }
        for (std::string_view rest = controllers; !rest.empty();) {
            const auto comma = rest.find(',');
            if (rest.substr(0, comma) == controller) return std::string(path);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        }
    }
    return std::nullopt;
}

unsigned cpu_count_within_quota(unsigned available, std::optional<double> quota_cpus) {
    unsigned count = std::max(1u, available);
    if (quota_cpus && *quota_cpus > 0) {
        const double rounded_up = std::ceil(*quota_cpus);
        if (rounded_up < static_cast<double>(count)) count = std::max(1u, static_cast<unsigned>(rounded_up));
    }
    return count;
}

std::optional<double> read_cgroup_cpu_limit(const std::string& cgroup_root, const std::string& proc_self_cgroup) {
    const auto membership = read_file(proc_self_cgroup);
    if (!membership) return std::nullopt;
    // cgroup v2: one unified hierarchy, cpu.max at every level.
    if (const auto path = cgroup_path(*membership, ""); path && read_file(cgroup_root + "/cgroup.controllers")) {
        return tightest_on_the_way_up(cgroup_root, *path, [](const std::string& dir) {
            const auto text = read_file(dir + "/cpu.max");
            return text ? parse_cpu_max(*text) : std::nullopt;
        });
    }
    // cgroup v1: the cpu controller's own hierarchy.
    const auto path = cgroup_path(*membership, "cpu");
    if (!path) return std::nullopt;
    for (const char* mount : {"/cpu", "/cpu,cpuacct", "/cpuacct,cpu"}) {
        const std::string root = cgroup_root + mount;
        if (!read_file(root + "/cpu.cfs_period_us")) continue;
        return tightest_on_the_way_up(root, *path, [](const std::string& dir) -> std::optional<double> {
            const auto quota = read_file(dir + "/cpu.cfs_quota_us");
            const auto period = read_file(dir + "/cpu.cfs_period_us");
            return quota && period ? parse_cfs_quota(*quota, *period) : std::nullopt;
        });
    }
    return std::nullopt;
}

}  // namespace clusterd
