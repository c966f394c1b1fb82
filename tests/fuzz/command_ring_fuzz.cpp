// libFuzzer entry point for the command_ring target; the harness is shared with
// tests/unit/fuzz_corpus_test.cpp, which replays corpus/command_ring/ under g++.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/ring_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    clusterd::fuzz::run_command_ring(data, size);
    return 0;
}
