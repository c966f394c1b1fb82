// The example service (examples/similarity) under a real daemon: ranking
// over HTTP under every executor, a malformed body is 400 with the parser's
// reason, an oversized one 413, a crash in the task under processes is 502
// for that request only.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <future>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/http_client.hpp"

using namespace clusterd::test;

namespace {

DaemonOptions similarity(const std::string& mode, std::vector<std::string> extra = {}) {
    DaemonOptions options;
    options.args = {"--workers", "2", "--compute", mode, "--compute-threads", "2", "--compute-processes", "2"};
    options.args.insert(options.args.end(), extra.begin(), extra.end());
    options.binary = CLUSTERD_SIMILARITY_APP;
    return options;
}

const std::string request = R"({"query": "restart crashed worker processes", "documents": [
    {"id": "pasta", "text": "Boil the pasta in salted water."},
    {"id": "supervisor", "text": "The supervisor restarts worker processes that crashed."},
    {"id": "bees", "text": "Worker bees collect pollen."}]})";

std::vector<std::string> ranked_ids(const std::string& body) {
    std::vector<std::string> ids;
    const auto answer = nlohmann::json::parse(body);
    for (const auto& result : answer["results"]) ids.push_back(result["id"].get<std::string>());
    return ids;
}

}  // namespace

TEST_CASE("the similarity service ranks documents best first under every executor", "[integration][example]") {
    const std::string mode = GENERATE("inline", "threads", "processes");
    Daemon daemon(similarity(mode));
    HttpClient client(daemon.port());
    INFO(mode);
    const HttpResponse answer = client.post("/similarity", request, {{"Content-Type", "application/json"}});
    REQUIRE(answer.status == 200);
    CHECK(answer.header("Content-Type") == "application/json");
    CHECK(ranked_ids(answer.body) == std::vector<std::string>{"supervisor", "bees", "pasta"});
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("the similarity service refuses a malformed body with the parser's reason and an oversized one with 413",
          "[integration][example]") {
    Daemon daemon(similarity("processes", {"--task-max-input", "8KiB"}));
    HttpClient client(daemon.port());
    const HttpResponse malformed = client.post("/similarity", "{\"query\": \"x\", \"documents\": [");
    CHECK(malformed.status == 400);
    CHECK(malformed.body.find("parse error") != std::string::npos);
    CHECK(client.post("/similarity", R"({"query": 1, "documents": ["a"]})").status == 400);
    const std::string big = R"({"query": "x", "documents": [")" + std::string(9000, 'a') + R"("]})";
    CHECK(client.post("/similarity", big).status == 413);
    CHECK(client.post("/similarity", request).status == 200);
    CHECK(daemon.stop_and_check_clean());
}

TEST_CASE("a crash in the similarity task under processes is a 502 for that request only", "[integration][example]") {
    Daemon daemon(similarity("processes", {"--enable-fault-injection"}));
    HttpClient client(daemon.port());
    REQUIRE(client.post("/similarity", request).status == 200);
    // Requests in flight beside the crashing one are answered.
    std::vector<std::future<long>> others;
    for (int i = 0; i < 4; ++i) {
        others.push_back(std::async(std::launch::async, [&daemon] {
            HttpClient own(daemon.port());
            long worst = 200;
            for (int k = 0; k < 5; ++k) worst = std::max(worst, own.post("/similarity", request).status);
            return worst;
        }));
    }
    CHECK(client.post("/similarity?crash=1", request).status == 502);
    for (auto& other : others) CHECK(other.get() == 200);
    CHECK(daemon.wait_for_log("task score crashed its executor while serving POST /similarity"));
    CHECK(client.post("/similarity", request).status == 200);
    CHECK(daemon.stop_and_check_clean());
}
