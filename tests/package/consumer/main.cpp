// A one-file application on the installed package: a custom route and a
// custom task. Built twice by tests/package/check_package.sh: with CMake's
// find_package(clusterd) and with `pkg-config --cflags --libs clusterd`.
#include <clusterd/app.hpp>

#include <algorithm>
#include <cctype>
#include <string>

int main(int argc, char** argv) {
    clusterd::App app{"consumer"};
    app.task("upper", [](std::string_view input) {
        std::string out(input);
        std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
        return out;
    });
    app.get("/greet/{name}", [](const clusterd::Request& request) {
        return clusterd::Response::text(200, "hello, " + std::string(*request.param("name")));
    });
    app.post("/upper", clusterd::offload("upper", "text/plain"));
    return clusterd::run(app, argc, argv);
}
