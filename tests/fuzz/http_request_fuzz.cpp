// libFuzzer entry point for the http_request target; the harness is shared with
// tests/unit/fuzz_corpus_test.cpp, which replays corpus/http_request/ under g++.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/http_request_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    clusterd::fuzz::run_http_request(data, size);
    return 0;
}
