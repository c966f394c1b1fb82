// Sieve of Eratosthenes over odd numbers only, one bit each: even numbers
// above 2 are never prime, so skipping them halves both memory and work.
// Bit j stands for the odd number 2j + 3 and is set once it is known to be
// composite.
#include "apps/clusterd/primes.hpp"

#include <bit>
#include <vector>

namespace stock {
namespace {

class OddComposites {
public:
    explicit OddComposites(std::uint64_t odd_count) : words_((odd_count + 63) / 64, 0) {}

    [[nodiscard]] bool test(std::uint64_t index) const { return (words_[index / 64] >> (index % 64)) & 1U; }
    void set(std::uint64_t index) { words_[index / 64] |= std::uint64_t{1} << (index % 64); }

    // Bits past the last odd number are never set, so whole words can be counted.
    [[nodiscard]] std::uint64_t count() const {
        std::uint64_t total = 0;
        for (const auto word : words_) total += static_cast<std::uint64_t>(std::popcount(word));
        return total;
    }

private:
    std::vector<std::uint64_t> words_;
};

[[nodiscard]] constexpr std::uint64_t index_of(std::uint64_t odd) { return (odd - 3) / 2; }

}  // namespace

std::uint64_t count_primes(std::uint64_t limit) {
    if (limit < 2) return 0;
    const std::uint64_t odd_count = (limit - 1) / 2;  // 3, 5, ..., the largest odd <= limit
    OddComposites composites(odd_count);
    for (std::uint64_t p = 3; p * p <= limit; p += 2) {
        if (composites.test(index_of(p))) continue;
        // Smaller multiples of p were crossed out by smaller primes; even
        // multiples are not in the table, hence the step of 2p.
        for (std::uint64_t multiple = p * p; multiple <= limit; multiple += 2 * p) composites.set(index_of(multiple));
    }
    return 1 + odd_count - composites.count();  // 1: the prime 2
}

}  // namespace stock
