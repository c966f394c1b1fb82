#include "worker/fault_injection.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

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

namespace {

// Memory kept on purpose until the process ends. Several loops of a
// --model=threads worker may leak at once, hence the mutex.
std::mutex leaked_blocks_mutex;
std::vector<std::unique_ptr<char[]>>& leaked_blocks() {
    static std::vector<std::unique_ptr<char[]>> blocks;
    return blocks;
}

Response leak_memory(std::string_view query) {
    auto mib = query_uint(query, "mib", 1, 4096, 64);
    if (auto* error = std::get_if<std::string>(&mib)) return text_response(400, *error);
    const std::size_t bytes = std::get<std::uint64_t>(mib) << 20;
    auto block = std::make_unique<char[]>(bytes);
    // Touch every page, so it counts in RSS.
    for (std::size_t i = 0; i < bytes; i += 4096) block[i] = static_cast<char>(i);
    std::size_t kept = 0;
    {
        std::lock_guard lock(leaked_blocks_mutex);
        leaked_blocks().push_back(std::move(block));
        kept = leaked_blocks().size();
    }
    spdlog::warn("fault injection: leaked {} MiB ({} blocks kept)", std::get<std::uint64_t>(mib), kept);
    return text_response(200, "leaked " + std::to_string(std::get<std::uint64_t>(mib)) + " MiB");
}

Response leak_descriptors(std::string_view query) {
    auto count = query_uint(query, "count", 1, 100'000, 100);
    if (auto* error = std::get_if<std::string>(&count)) return text_response(400, *error);
    std::uint64_t opened = 0;
    for (; opened < std::get<std::uint64_t>(count); ++opened) {
        if (::open("/dev/null", O_RDONLY | O_CLOEXEC) < 0) break;  // kept open on purpose
    }
    spdlog::warn("fault injection: leaked {} descriptors", opened);
    return text_response(200, "leaked " + std::to_string(opened) + " descriptors");
}

// Garbage over every field this worker writes, and over its log ring's
// indices: what a wild pointer in a crashing worker could do.
void scribble(const FaultTarget& target) {
    std::mt19937_64 random(std::random_device{}());
    auto garbage = [&](void* where, std::size_t bytes) {
        auto* out = static_cast<unsigned char*>(where);
        for (std::size_t i = 0; i < bytes; ++i) out[i] = static_cast<unsigned char>(random());
    };
    if (target.own_slot != nullptr) {
        auto* begin = reinterpret_cast<unsigned char*>(&target.own_slot->heartbeat_ms);
        auto* end = reinterpret_cast<unsigned char*>(target.own_slot) + sizeof(ScoreboardSlot);
        garbage(begin, static_cast<std::size_t>(end - begin));
    }
    if (target.own_log_ring != nullptr) garbage(target.own_log_ring, 192);  // its head and tail lines
}

}  // namespace

Response inject_fault(std::string_view query, const FaultTarget& target) {
    const auto mode = query_param(query, "mode").value_or("");
    if (mode == "leak") return leak_memory(query);
    if (mode == "fd-leak") return leak_descriptors(query);
    if (mode == "stop") {
        spdlog::warn("fault injection: stop on request");
        std::raise(SIGSTOP);
        return text_response(200, "continued after SIGSTOP");
    }
    if (mode == "scribble") {
        spdlog::warn("fault injection: scribbling over this worker's shared memory");
        scribble(target);
        spin_forever();
    }
    if (mode == "forge-log") {
        // What a compromised worker would write: a second, supervisor-looking
        // line behind a newline, and a sequence that clears the terminal.
        spdlog::warn("fault injection: forged\n[supervisor] all workers stopped\x1b[2J\x1b[31m");
        return text_response(200, "forged a log line");
    }
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
    return text_response(400, "mode must be one of segv, abort, exit, hang, stop, slow, leak, fd-leak, scribble, forge-log");
}

void crash_at_start() {
    spdlog::warn("fault injection: crashing at start");
    std::abort();
}

}  // namespace clusterd::worker
