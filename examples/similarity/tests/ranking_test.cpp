// The similarity service's algorithm on known inputs.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "scoring.hpp"
#include "tfidf.hpp"

using namespace similarity;

TEST_CASE("tokens are lowercase runs of letters and digits", "[similarity]") {
    REQUIRE(tokenize("Hello, World! 42 times--fast") == std::vector<std::string>{"hello", "world", "42", "times", "fast"});
    REQUIRE(tokenize("  ...  ").empty());
}

TEST_CASE("a common word weighs less than a rare one", "[similarity]") {
    const Corpus corpus(builtin_corpus());
    REQUIRE(corpus.idf("the") < corpus.idf("supervisor"));
    REQUIRE(corpus.idf("never-seen-word") > corpus.idf("supervisor"));
}

TEST_CASE("cosine is 1 for the same text, 0 for texts sharing no word", "[similarity]") {
    const Corpus corpus(builtin_corpus());
    const auto a = tfidf("worker processes crash and restart", corpus);
    REQUIRE(cosine(a, a) == Approx(1.0));
    REQUIRE(cosine(a, tfidf("sunny weather today", corpus)) == 0.0);
    REQUIRE(cosine(a, tfidf("", corpus)) == 0.0);
}

TEST_CASE("documents come back best first, the closest to the query on top", "[similarity]") {
    const Corpus corpus(builtin_corpus());
    const std::string request = R"({"query": "restart crashed worker processes",
        "documents": [
            {"id": "pasta", "text": "Boil the pasta in salted water."},
            {"id": "supervisor", "text": "The supervisor restarts worker processes that crashed."},
            {"id": "workers", "text": "Worker bees collect pollen."},
            "nothing in common here"
        ]})";
    const auto answer = nlohmann::json::parse(rank(request, corpus));
    const auto& results = answer["results"];
    REQUIRE(results.size() == 4);
    REQUIRE(results[0]["id"] == "supervisor");
    REQUIRE(results[1]["id"] == "workers");
    REQUIRE(results[0]["score"].get<double>() > results[1]["score"].get<double>());
    REQUIRE(results[1]["score"].get<double>() > 0.0);
    REQUIRE(results[2]["score"].get<double>() == 0.0);
    // Ties keep the order given: pasta (index 0) before the bare string (index 3).
    REQUIRE(results[2]["index"] == 0);
    REQUIRE(results[3]["index"] == 3);
    REQUIRE_FALSE(results[3].contains("id"));
}

TEST_CASE("a malformed request is refused with the reason", "[similarity]") {
    const Corpus corpus(builtin_corpus());
    REQUIRE_THROWS_WITH(rank("{\"query\": ", corpus), Catch::Contains("parse error"));
    REQUIRE_THROWS_WITH(rank("[]", corpus), Catch::Contains("must be a JSON object"));
    REQUIRE_THROWS_WITH(rank(R"({"documents": ["a"]})", corpus), Catch::Contains("\"query\" must be a string"));
    REQUIRE_THROWS_WITH(rank(R"({"query": "a", "documents": []})", corpus), Catch::Contains("must not be empty"));
    REQUIRE_THROWS_WITH(rank(R"({"query": "a", "documents": [1]})", corpus), Catch::Contains("document 0 must be"));
}
