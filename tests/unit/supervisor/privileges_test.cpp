#include "supervisor/privileges.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

using namespace clusterd::supervisor;

namespace {

RunAs resolved(std::string_view user, std::string_view group) {
    auto result = resolve_run_as(user, group);
    if (auto* error = std::get_if<std::string>(&result)) FAIL(*error);
    return std::get<RunAs>(result);
}

std::string error_of(std::string_view user, std::string_view group) {
    auto result = resolve_run_as(user, group);
    if (auto* error = std::get_if<std::string>(&result)) return *error;
    return "(resolved)";
}

}  // namespace

TEST_CASE("users and groups resolve by name or number", "[supervisor][privileges]") {
    // Debian's nobody:nogroup is 65534:65534.
    const RunAs nobody = resolved("nobody", "");
    CHECK(nobody.uid == 65534);
    CHECK(nobody.gid == 65534);
    CHECK(nobody.user == "nobody");
    CHECK(nobody.group == "nogroup");

    const RunAs with_group = resolved("nobody", "nogroup");
    CHECK(with_group.gid == 65534);
    CHECK(with_group.group == "nogroup");

    const RunAs numeric = resolved("65534", "0");
    CHECK(numeric.uid == 65534);
    CHECK(numeric.user == "nobody");
    CHECK(numeric.gid == 0);

    // An id without a passwd entry is allowed (containers, DynamicUser) once its group is known.
    const RunAs bare = resolved("4242", "4243");
    CHECK(bare.uid == 4242);
    CHECK(bare.gid == 4243);
    CHECK(bare.user == "4242");
}

TEST_CASE("an unknown user or group is a sentence naming it", "[supervisor][privileges]") {
    CHECK(error_of("no-such-user-clusterd", "") == "no such user 'no-such-user-clusterd'");
    CHECK(error_of("nobody", "no-such-group-clusterd") == "no such group 'no-such-group-clusterd'");
    CHECK(error_of("4242", "") == "user id 4242 has no passwd entry, so it has no primary group: give --group too");
    CHECK(error_of("", "") == "no user given to run as");
    CHECK(error_of("12abc", "") == "no such user '12abc'");
}

TEST_CASE("root runs workers only as another user or when told to", "[supervisor][privileges]") {
    CHECK(refuse_root_without_user(true, false, false));
    CHECK_FALSE(refuse_root_without_user(true, true, false));
    CHECK_FALSE(refuse_root_without_user(true, false, true));
    CHECK_FALSE(refuse_root_without_user(false, false, false));
    CHECK(running_as_root() == (geteuid() == 0));
}

TEST_CASE("a user shared with other daemons draws a warning, a dedicated one none", "[supervisor][privileges]") {
    const auto warning = shared_user_warning(resolved("nobody", ""));
    REQUIRE(warning);
    CHECK_THAT(*warning, Catch::Contains("shared with other daemons"));
    CHECK_THAT(*warning, Catch::Contains("dedicated user"));
    CHECK(shared_user_warning(resolved("65534", "0")));
    CHECK_FALSE(shared_user_warning(resolved("4242", "4243")));
    CHECK_FALSE(shared_user_warning(RunAs{0, 0, "root", "root"}));
}
