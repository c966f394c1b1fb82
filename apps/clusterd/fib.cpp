#include "apps/clusterd/fib.hpp"

namespace stock {

std::uint64_t fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

}  // namespace stock
