// What a fuzz harness does when an invariant breaks: say which, then abort,
// so libFuzzer records the input as a crash and a replaying unit test dies
// loudly instead of passing.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition, what)                                                           \
    do {                                                                                      \
        if (!(condition)) {                                                                   \
            std::fprintf(stderr, "fuzz invariant broken at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                         what, #condition);                                                   \
            std::abort();                                                                     \
        }                                                                                     \
    } while (false)
