// A single-writer sequence lock for a small trivially copyable record that
// lives in shared memory: the writer never waits, a reader retries a bounded
// number of times and otherwise reports "no consistent value".
//
// Who writes, who reads
//   sequence_, words_   written by exactly one process at a time (the worker
//                       that owns the slot); read by any number of others
//                       (the supervisor, a status page).
//   sequence_ is odd while a write is in progress and even when words_ hold a
//   whole record. It only ever grows (64 bits: it does not wrap in practice).
//
// Why these memory orders are enough (H.-J. Boehm, "Can seqlocks get along
// with programming language memory models?", MSPC 2012: the variant with
// acquire loads and release stores of the payload, no standalone fence):
//   writer                               reader
//   seq.store(odd, relaxed)              s1 = seq.load(acquire)     (odd: retry)
//   words[i].store(release)...           words[i].load(acquire)...
//   seq.store(odd + 1, release)          s2 = seq.load(relaxed)     (s1 != s2: retry)
// - If s1 reads the even value that write W ended with, the release store /
//   acquire load pair makes every word store of W happen before the word
//   loads, so each of them reads W's word or a later one.
// - If any word load reads a word of a later write W', that word store is a
//   release store sequenced after W's odd sequence store, and the load is an
//   acquire sequenced before the s2 load: the odd store happens before s2,
//   so s2 reads it or something later, never s1. The copy is thrown away.
// So a copy is kept only when every word came from the same write.
// The payload is copied as std::atomic<std::uint64_t> words, so a racing
// read is never a data race (no undefined behaviour even when the copy is
// discarded), and ThreadSanitizer understands every edge: GCC rejects
// std::atomic_thread_fence under -fsanitize=thread (-Wtsan), which rules out
// the fence variant. On x86-64 an acquire load and a release store are plain
// moves, so this costs nothing there; on AArch64 they are ldar/stlr.
//
// A writer that dies mid-write leaves the sequence odd. Readers then give up
// after max_attempts and return std::nullopt (never spin forever); the next
// writer of the slot (a successor process) starts from the odd value and
// repairs it by ending its own write on an even number.
//
// Nothing here validates the record: a crashing writer can publish garbage
// with an even sequence. try_read() promises a consistent copy, not a sane
// one; the caller checks the fields (string termination, ranges) it uses.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>

namespace clusterd {

// One spin-wait hint; a no-op where the CPU has none.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

template <typename T>
class Seqlock {
    static_assert(std::is_trivially_copyable_v<T>, "a seqlock copies its payload word by word");
    static_assert(std::is_default_constructible_v<T>, "try_read() builds a T to copy into");
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared memory needs address-free atomics");

public:
    // Enough for a writer that was preempted in the middle of a write to be
    // scheduled again on a busy machine only rarely; the attempts are cheap
    // (a few loads and a pause each).
    static constexpr unsigned default_attempts = 128;

    Seqlock() = default;
    Seqlock(const Seqlock&) = delete;
    Seqlock& operator=(const Seqlock&) = delete;

    // Single writer: two processes or threads must never call write() on the
    // same Seqlock concurrently. Never blocks.
    void write(const T& value) noexcept {
        std::uint64_t buffer[word_count] = {};
        std::memcpy(buffer, &value, sizeof(T));
        // `| 1`: a predecessor killed mid-write left the sequence odd; ending
        // this write on odd + 1 makes it even again.
        const std::uint64_t odd = sequence_.load(std::memory_order_relaxed) | 1;
        sequence_.store(odd, std::memory_order_relaxed);
        for (std::size_t i = 0; i < word_count; ++i) words_[i].store(buffer[i], std::memory_order_release);
        sequence_.store(odd + 1, std::memory_order_release);
    }

    // A consistent copy of the last completed write, or std::nullopt when
    // max_attempts reads in a row overlapped a write (or the writer died in
    // the middle of one). Never blocks, never loops more than max_attempts.
    [[nodiscard]] std::optional<T> try_read(unsigned max_attempts = default_attempts) const noexcept {
        for (unsigned attempt = 0; attempt < max_attempts; ++attempt) {
            if (attempt != 0) cpu_relax();
            const std::uint64_t before = sequence_.load(std::memory_order_acquire);
            if ((before & 1) != 0) continue;
            std::uint64_t buffer[word_count];
            for (std::size_t i = 0; i < word_count; ++i) buffer[i] = words_[i].load(std::memory_order_acquire);
            if (sequence_.load(std::memory_order_relaxed) != before) continue;
            T value;
            std::memcpy(&value, buffer, sizeof(T));
            return value;
        }
        return std::nullopt;
    }

private:
    static constexpr std::size_t word_count = (sizeof(T) + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t);

    std::atomic<std::uint64_t> sequence_{0};
    std::atomic<std::uint64_t> words_[word_count]{};
};

}  // namespace clusterd
