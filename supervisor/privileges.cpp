#include "supervisor/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include "common/units.hpp"

namespace clusterd::supervisor {
namespace {

// One getpw*_r / getgr*_r lookup. The _r calls want a buffer whose size
// sysconf only suggests; ERANGE means grow it. call is the lookup with its
// key bound: call(Entry*, char* buffer, size_t size, Entry** result).
template <typename Entry>
struct Lookup {
    Entry entry{};
    std::vector<char> buffer = std::vector<char>(1024);
    bool found = false;
    int error = 0;  // errno-style; not finding the name is no error

    template <typename Call>
    explicit Lookup(Call call) {
        for (;;) {
            Entry* result = nullptr;
            error = call(&entry, buffer.data(), buffer.size(), &result);
            if (error == ERANGE && buffer.size() < (1u << 20)) {
                buffer.resize(buffer.size() * 2);
                continue;
            }
            // glibc documents ENOENT, ESRCH, EBADF and EPERM from some NSS
            // modules as another way of saying "not found".
            if (error == ENOENT || error == ESRCH || error == EBADF || error == EPERM) error = 0;
            found = error == 0 && result != nullptr;
            return;
        }
    }
};

struct User {
    uid_t uid;
    std::optional<gid_t> primary_group;
    std::string name;
};

std::variant<User, std::string> resolve_user(std::string_view text) {
    const auto id = parse_whole_number<uid_t>(text);
    const std::string name(text);
    const auto user = id ? Lookup<passwd>(std::bind_front(getpwuid_r, *id))
                         : Lookup<passwd>(std::bind_front(getpwnam_r, name.c_str()));
    if (user.error != 0) return "looking up user '" + name + "' failed: " + std::strerror(user.error);
    if (user.found) return User{user.entry.pw_uid, user.entry.pw_gid, user.entry.pw_name};
    if (id) return User{*id, std::nullopt, name};
    return "no such user '" + name + "'";
}

std::variant<gid_t, std::string> resolve_group(std::string_view text) {
    if (auto id = parse_whole_number<gid_t>(text)) return *id;
    const std::string name(text);
    const Lookup<group> lookup(std::bind_front(getgrnam_r, name.c_str()));
    if (lookup.error != 0) return "looking up group '" + name + "' failed: " + std::strerror(lookup.error);
    if (!lookup.found) return "no such group '" + name + "'";
    return lookup.entry.gr_gid;
}

// The group's name for log lines; its number when it has no entry.
std::string name_of_group(gid_t gid) {
    const Lookup<group> lookup(std::bind_front(getgrgid_r, gid));
    return lookup.found ? std::string(lookup.entry.gr_name) : std::to_string(gid);
}

}  // namespace

std::variant<RunAs, std::string> resolve_run_as(std::string_view user_text, std::string_view group_text) {
    if (user_text.empty()) return std::string("no user given to run as");
    auto resolved = resolve_user(user_text);
    if (auto* error = std::get_if<std::string>(&resolved)) return std::move(*error);
    const User& who = std::get<User>(resolved);
    RunAs ids{who.uid, 0, who.name, {}};
    if (!group_text.empty()) {
        auto gid = resolve_group(group_text);
        if (auto* error = std::get_if<std::string>(&gid)) return std::move(*error);
        ids.gid = std::get<gid_t>(gid);
        ids.group = group_text;
    } else if (who.primary_group) {
        ids.gid = *who.primary_group;
        ids.group = name_of_group(ids.gid);
    } else {
        return "user id " + std::string(user_text) + " has no passwd entry, so it has no primary group: give --group too";
    }
    return ids;
}

std::optional<std::string> shared_user_warning(const RunAs& ids) {
    // 65534 is the kernel's overflow uid, nobody on every distribution.
    if (ids.user != "nobody" && ids.uid != 65534) return std::nullopt;
    return "--user " + ids.user + " (uid " + std::to_string(ids.uid) +
           ") is shared with other daemons: any process running as it can ptrace a dumpable worker and open what "
           "the workers open; use a dedicated user (adduser --system --group clusterd), as the systemd unit's "
           "DynamicUser does";
}

bool running_as_root() { return geteuid() == 0; }

std::optional<std::string> refuse_root_without_user(bool as_root, bool user_given, bool allow_root) {
    if (!as_root || user_given || allow_root) return std::nullopt;
    return std::string("refusing to run workers as root: give --user (and --group) to run them as an unprivileged "
                       "user, or --allow-root if root is really meant");
}

}  // namespace clusterd::supervisor
