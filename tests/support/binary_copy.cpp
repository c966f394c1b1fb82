#include "tests/support/binary_copy.hpp"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace clusterd::test {

namespace fs = std::filesystem;

BinaryCopy::BinaryCopy() {
    char dir_template[] = "/tmp/clusterd-binary-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp() failed");
    dir_ = dir_template;
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    path_ = dir_ + "/clusterd";
    fs::copy_file(CLUSTERD_BINARY, path_);
    fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
    ::setenv("CLUSTERD_TEST_BINARY", path_.c_str(), 1);
}

BinaryCopy::~BinaryCopy() {
    ::unsetenv("CLUSTERD_TEST_BINARY");
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
}

void BinaryCopy::replace_with_script(const std::string& script) const {
    const std::string next = dir_ + "/clusterd.new";
    std::ofstream(next) << script;
    fs::permissions(next, fs::perms::owner_all);
    fs::rename(next, path_);
}

}  // namespace clusterd::test
