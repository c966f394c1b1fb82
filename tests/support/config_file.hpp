// A --config file in a private temporary directory, removed with it.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace clusterd::test {

class ConfigFile {
public:
    ConfigFile() {
        char dir_template[] = "/tmp/clusterd-config-XXXXXX";
        if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp() failed");
        dir_ = dir_template;
        path_ = dir_ + "/clusterd.toml";
    }
    ~ConfigFile() {
        std::remove(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    ConfigFile(const ConfigFile&) = delete;
    ConfigFile& operator=(const ConfigFile&) = delete;
    void write(const std::string& text) const { std::ofstream(path_) << text; }
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string dir_;
    std::string path_;
};

}  // namespace clusterd::test
