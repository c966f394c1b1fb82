// The shipped units against systemd's own checker: `systemd-analyze verify`
// must accept both with nothing to say, and `systemd-analyze security` must
// keep the service's exposure where docs/OPERATING.md says it is. The units'
// ExecStart names the installed /usr/local/bin/clusterd, which verify
// insists exists, so they are checked as copies that name this build's binary.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

const char* const installed_binary = "/usr/local/bin/clusterd";

std::string find_in_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::string dirs = std::string(path ? path : "") + ":/usr/bin:/bin:/usr/sbin:/sbin";
    std::istringstream stream(dirs);
    for (std::string dir; std::getline(stream, dir, ':');) {
        if (dir.empty()) continue;
        const fs::path candidate = fs::path(dir) / program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return {};
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// A temporary directory with both units, ExecStart rewritten to this build's binary.
struct UnitCopies {
    fs::path dir;
    UnitCopies() {
        dir = fs::temp_directory_path() / ("clusterd-units-" + std::to_string(::getpid()));
        fs::create_directories(dir);
        for (const char* name : {"clusterd.service", "clusterd.socket"}) {
            std::string text = read_file(fs::path(CLUSTERD_SYSTEMD_DIR) / name);
            REQUIRE_FALSE(text.empty());
            for (auto at = text.find(installed_binary); at != std::string::npos; at = text.find(installed_binary, at)) {
                text.replace(at, std::string(installed_binary).size(), CLUSTERD_BINARY);
                at += std::string(CLUSTERD_BINARY).size();
            }
            std::ofstream(dir / name) << text;
        }
    }
    ~UnitCopies() {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
    }
    UnitCopies(const UnitCopies&) = delete;
    UnitCopies& operator=(const UnitCopies&) = delete;
};

struct Run {
    int code = -1;
    std::string out;
    std::string err;
};

Run run(const std::string& command, const fs::path& dir) {
    const fs::path out = dir / "stdout.txt";
    const fs::path err = dir / "stderr.txt";
    const std::string line = command + " >" + out.string() + " 2>" + err.string();
    const int status = std::system(line.c_str());
    Run result;
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = read_file(out);
    result.err = read_file(err);
    fs::remove(out);
    fs::remove(err);
    return result;
}

// The path of systemd-analyze; empty (with the skip said) when it is not installed.
std::string systemd_analyze_or_skip() {
    const std::string analyze = find_in_path("systemd-analyze");
    if (analyze.empty()) WARN("systemd-analyze is not installed (Debian: apt install systemd); skipping");
    return analyze;
}

}  // namespace

TEST_CASE("systemd-analyze verify accepts both units without a warning", "[systemd]") {
    const std::string analyze = systemd_analyze_or_skip();
    if (analyze.empty()) return;
    UnitCopies units;
    const Run verify = run(analyze + " verify " + (units.dir / "clusterd.service").string() + " " +
                               (units.dir / "clusterd.socket").string(),
                           units.dir);
    INFO("stdout: " << verify.out);
    INFO("stderr: " << verify.err);
    CHECK(verify.code == 0);
    CHECK(verify.err.empty());
}

TEST_CASE("systemd-analyze security finds the service sandboxed as the docs say", "[systemd]") {
    const std::string analyze = systemd_analyze_or_skip();
    if (analyze.empty()) return;
    UnitCopies units;
    const Run security = run(analyze + " security --offline=true --no-pager " + (units.dir / "clusterd.service").string(),
                             units.dir);
    INFO("stdout: " << security.out);
    INFO("stderr: " << security.err);
    if (security.code != 0 && security.err.find("offline") != std::string::npos) {
        WARN("this systemd-analyze has no --offline (systemd < 252); skipping the security check");
        return;
    }
    std::smatch score;
    REQUIRE(std::regex_search(security.out, score, std::regex(R"(Overall exposure level for \S+: (\d+\.\d))")));
    // 1.2 with systemd 252 (docs/OPERATING.md); the bound leaves room for
    // other versions weighing the same directives differently, not for a
    // directive dropped from the unit.
    CHECK(std::stod(score[1].str()) <= 2.0);
}
