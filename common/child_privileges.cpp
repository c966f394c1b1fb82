#include "common/child_privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/child_contract.hpp"
#include "common/units.hpp"

namespace clusterd::child {
namespace {

// The raw capget/capset calls (glibc has no wrapper; libcap would be a
// dependency for two system calls). Version 3: two 32-bit words per set.
struct CapabilitySets {
    __user_cap_data_struct words[_LINUX_CAPABILITY_U32S_3]{};
};

bool read_capabilities(CapabilitySets& sets) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    return ::syscall(SYS_capget, &header, sets.words) == 0;
}

bool clear_capabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    CapabilitySets none;
    return ::syscall(SYS_capset, &header, none.words) == 0;
}

// Every capability out of the bounding set, so that nothing this process
// ever executes can hold one. Needs CAP_SETPCAP: without it (a container
// that withheld it) the set stays as it is; no-new-privs and the empty
// permitted set still keep every capability out of reach.
void empty_bounding_set() {
    for (unsigned long cap = 0; ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno == EPERM) return;
    }
}

std::string failure(const char* call, const Identity& identity) {
    return std::string(call) + "() failed while becoming " + format_run_as(identity) + ": " + std::strerror(errno);
}

std::string unproven(const Identity& identity, const char* what) {
    return "becoming " + format_run_as(identity) + " did not stick: " + what;
}

}  // namespace

std::string format_run_as(const Identity& identity) {
    return std::to_string(identity.uid) + ":" + std::to_string(identity.gid);
}

std::variant<std::monostate, Identity, std::string> identity_in(int argc, const char* const* argv) {
    std::optional<std::string_view> run_as;
    std::optional<std::string_view> dumpable;
    for (int i = 1; i + 1 < argc && std::string_view(argv[i]) != "--"; i += 2) {
        if (std::string_view(argv[i]) == run_as_option) run_as = argv[i + 1];
        if (std::string_view(argv[i]) == dumpable_option) dumpable = argv[i + 1];
    }
    if (!run_as) return std::monostate{};
    const auto colon = run_as->find(':');
    const auto uid = parse_whole_number<uid_t>(run_as->substr(0, colon));
    const auto gid = colon == std::string_view::npos ? std::nullopt : parse_whole_number<gid_t>(run_as->substr(colon + 1));
    if (!uid || !gid) return "the supervisor's " + std::string(run_as_option) + " '" + std::string(*run_as) + "' is not UID:GID";
    if (dumpable && *dumpable != "0" && *dumpable != "1") {
        return "the supervisor's " + std::string(dumpable_option) + " '" + std::string(*dumpable) + "' is not 0 or 1";
    }
    return Identity{*uid, *gid, dumpable == "1"};
}

std::optional<std::string> become(const Identity& identity) {
    empty_bounding_set();
    if (::setgroups(1, &identity.gid) != 0) return failure("setgroups", identity);
    if (::setresgid(identity.gid, identity.gid, identity.gid) != 0) return failure("setresgid", identity);
    if (::setresuid(identity.uid, identity.uid, identity.uid) != 0) return failure("setresuid", identity);
    // Leaving uid 0 cleared permitted and effective already (no KEEPCAPS);
    // inheritable is kept by the kernel, so it is emptied here, and ambient too.
    if (!clear_capabilities()) return failure("capset", identity);
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        return failure("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", identity);
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failure("prctl(PR_SET_NO_NEW_PRIVS)", identity);
    // Changing ids made us non-dumpable already (fs.suid_dumpable is 0 by
    // default); said explicitly either way, since the sysctl may differ.
    if (::prctl(PR_SET_DUMPABLE, identity.dumpable ? 1 : 0, 0, 0, 0) != 0) {
        return failure("prctl(PR_SET_DUMPABLE)", identity);
    }

    uid_t real = 0, effective = 0, saved = 0;
    gid_t real_group = 0, effective_group = 0, saved_group = 0;
    if (::getresuid(&real, &effective, &saved) != 0 || ::getresgid(&real_group, &effective_group, &saved_group) != 0) {
        return failure("getresuid", identity);
    }
    if (real != identity.uid || effective != identity.uid || saved != identity.uid || real_group != identity.gid ||
        effective_group != identity.gid || saved_group != identity.gid) {
        return unproven(identity, "other ids are still in place");
    }
    if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return unproven(identity, "no-new-privs is off");
    if (!holds_no_capability()) return unproven(identity, "a capability is left");
    // A process that can still become root has not dropped anything.
    if (identity.uid != 0 && ::setuid(0) == 0) return unproven(identity, "setuid(0) still succeeds");
    return std::nullopt;
}

bool holds_no_capability() {
    CapabilitySets sets;
    if (!read_capabilities(sets)) return false;
    for (const auto& word : sets.words) {
        if (word.effective != 0 || word.permitted != 0 || word.inheritable != 0) return false;
    }
    for (unsigned long cap = 0; ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1) return false;
    }
    return true;
}

}  // namespace clusterd::child
