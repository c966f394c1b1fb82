#include "worker/fault_injection.hpp"

#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>

#include "worker/query.hpp"

namespace clusterd::worker {

void segfault() {
    // A real invalid write, not raise(): the kernel delivers SIGSEGV as it
    // would for a bug. volatile keeps the compiler from reasoning it away;
    // the address is in the never-mapped first page but not null, so UBSan
    // lets the fault happen instead of reporting a null store and exiting.
    volatile int* volatile nowhere = reinterpret_cast<int*>(std::uintptr_t{64});
    *nowhere = 1;
    std::abort();  // not reached
}

void spin_forever() {
    volatile std::uint64_t counter = 0;
    for (;;) counter = counter + 1;
}

Response inject_fault(std::string_view query) {
    const auto mode = query_param(query, "mode").value_or("");
    if (mode == "slow") {
        auto ms = query_uint(query, "ms", 0, 600'000, 1000);
        if (auto* error = std::get_if<std::string>(&ms)) return text_response(400, *error);
        Response response = text_response(200, "slow response after " + std::to_string(std::get<std::uint64_t>(ms)) + " ms");
        response.delay = Millis{static_cast<std::int64_t>(std::get<std::uint64_t>(ms))};
        return response;
    }
    if (mode == "segv" || mode == "abort" || mode == "exit" || mode == "hang") {
        spdlog::warn("fault injection: {} on request", mode);
        if (mode == "segv") segfault();
        if (mode == "abort") std::abort();
        if (mode == "exit") std::_Exit(1);
        spin_forever();
    }
    return text_response(400, "mode must be one of segv, abort, exit, hang, slow");
}

void crash_at_start() {
    spdlog::warn("fault injection: crashing at start");
    std::abort();
}

}  // namespace clusterd::worker
