// A copy of the built clusterd in a private directory (mode 0755, so an
// unprivileged --user can execute it, and a test can replace the file as a
// package upgrade would), used as CLUSTERD_TEST_BINARY while it lives.
#pragma once

#include <string>

namespace clusterd::test {

class BinaryCopy {
public:
    BinaryCopy();
    ~BinaryCopy();
    BinaryCopy(const BinaryCopy&) = delete;
    BinaryCopy& operator=(const BinaryCopy&) = delete;

    [[nodiscard]] const std::string& path() const { return path_; }
    // Puts `script` at the path by rename (a running binary cannot be written in place).
    void replace_with_script(const std::string& script) const;

private:
    std::string dir_;
    std::string path_;
};

}  // namespace clusterd::test
