// The stock clusterd: hello, fib, primes and hash as an application on the
// public API, the way any user's service is built (docs/APPLICATIONS.md).
#include <clusterd/app.hpp>

#include "apps/clusterd/math_service.hpp"

int main(int argc, char** argv) {
    clusterd::App app{"clusterd"};
    stock::declare_math_service(app);
    return clusterd::run(app, argc, argv);
}
