// The dispatch benchmark's application: an empty task (its input back) behind
// POST /echo, so a round trip measures the executor's hand-off and nothing else.
#include <clusterd/app.hpp>

int main(int argc, char** argv) {
    clusterd::App app{"echo"};
    app.task("echo", [](std::string_view input) { return std::string(input); });
    app.post("/echo", clusterd::offload("echo"));
    return clusterd::run(app, argc, argv);
}
