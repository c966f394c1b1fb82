// The similarity service on clusterd: POST /similarity with a query and
// documents (scoring.hpp), answered by the "score" task on the configured
// executor. The background corpus (tfidf.hpp) is built once per compute
// executor, in the compute hook: from SIMILARITY_CORPUS (one document per
// line) if set, else from the built-in one.
#include <clusterd/app.hpp>

#include <fstream>
#include <memory>
#include <stdexcept>

#include "scoring.hpp"
#include "tfidf.hpp"

namespace {

// Built by the compute hook on the thread (or in the process) that runs the
// tasks; read-only afterwards.
thread_local std::unique_ptr<similarity::Corpus> corpus;

std::vector<std::string> load_corpus() {
    const char* path = std::getenv("SIMILARITY_CORPUS");
    if (path == nullptr || *path == '\0') return similarity::builtin_corpus();
    std::ifstream in(path);
    if (!in) throw std::runtime_error(std::string("cannot read SIMILARITY_CORPUS ") + path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) lines.push_back(line);
    }
    if (lines.empty()) throw std::runtime_error(std::string("SIMILARITY_CORPUS ") + path + " has no documents");
    return lines;
}

}  // namespace

int main(int argc, char** argv) {
    clusterd::App app{"similarity"};
    const clusterd::Counter rankings = app.counter("rankings");
    app.on_compute_start([] { corpus = std::make_unique<similarity::Corpus>(load_corpus()); });
    app.task("score", [rankings](std::string_view input) {
        try {
            std::string ranked = similarity::rank(input, *corpus);
            rankings.add();
            return ranked;
        } catch (const similarity::MalformedRequest& error) {
            throw clusterd::BadInput(error.what());
        }
    });
    app.post("/similarity", clusterd::offload("score", "application/json"));
    app.get("/", [](const clusterd::Request&) {
        return clusterd::Response::text(200, "POST /similarity {\"query\": ..., \"documents\": [...]}");
    });
    return clusterd::run(app, argc, argv);
}
