// libFuzzer entry point for the scribbled_segment target; the harness is
// shared with tests/unit/fuzz/fuzz_corpus_test.cpp, which replays
// corpus/scribbled_segment/ under g++.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/segment_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    clusterd::fuzz::run_scribbled_segment(data, size);
    return 0;
}
