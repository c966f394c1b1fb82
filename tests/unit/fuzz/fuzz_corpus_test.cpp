// Replays every file of tests/fuzz/corpus/<target>/ (the seeds and every
// input that ever broke something) through the fuzz harnesses, compiled by
// the normal compiler: a regression shows up in the ordinary suite, with or
// without clang.
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/http_request_harness.hpp"
#include "tests/fuzz/ring_harness.hpp"
#include "tests/fuzz/segment_harness.hpp"

namespace {

std::vector<std::filesystem::path> corpus(const std::string& target) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(CLUSTERD_FUZZ_CORPUS) + "/" + target)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
    }
    return files;
}

std::vector<std::uint8_t> contents(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <typename Harness>
void replay(const std::string& target, Harness harness) {
    const auto files = corpus(target);
    REQUIRE_FALSE(files.empty());
    for (const auto& file : files) {
        INFO(file.string());
        const auto bytes = contents(file);
        harness(bytes.data(), bytes.size());  // aborts on a broken invariant
        SUCCEED();
    }
}

}  // namespace

TEST_CASE("every http_request corpus input is parsed, routed and answered well", "[fuzz]") {
    replay("http_request", clusterd::fuzz::run_http_request);
}

TEST_CASE("every log_ring corpus input is read and repaired safely", "[fuzz]") {
    replay("log_ring", clusterd::fuzz::run_log_ring);
}

TEST_CASE("every command_ring corpus input is read and repaired safely", "[fuzz]") {
    replay("command_ring", clusterd::fuzz::run_command_ring);
}

TEST_CASE("every job_ring corpus input is read and repaired safely", "[fuzz]") {
    replay("job_ring", clusterd::fuzz::run_job_ring);
}

TEST_CASE("every scribbled_segment corpus input is read by the supervisor's readers safely", "[fuzz]") {
    replay("scribbled_segment", clusterd::fuzz::run_scribbled_segment);
}
