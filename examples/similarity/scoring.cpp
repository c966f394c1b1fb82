#include "scoring.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <vector>

namespace similarity {
namespace {

struct Document {
    std::size_t index = 0;
    nlohmann::json id;  // null when the documents are bare strings
    std::string text;
};

std::vector<Document> documents_of(const nlohmann::json& request) {
    const auto found = request.find("documents");
    if (found == request.end() || !found->is_array()) throw MalformedRequest("\"documents\" must be an array");
    if (found->empty()) throw MalformedRequest("\"documents\" must not be empty");
    if (found->size() > max_documents) {
        throw MalformedRequest("at most " + std::to_string(max_documents) + " documents, not " +
                               std::to_string(found->size()));
    }
    std::vector<Document> documents;
    for (std::size_t i = 0; i < found->size(); ++i) {
        const auto& item = (*found)[i];
        if (item.is_string()) {
            documents.push_back({i, nullptr, item.get<std::string>()});
        } else if (item.is_object() && item.contains("text") && item["text"].is_string()) {
            documents.push_back({i, item.value("id", nlohmann::json()), item["text"].get<std::string>()});
        } else {
            throw MalformedRequest("document " + std::to_string(i) + " must be a string or {\"text\": string}");
        }
    }
    return documents;
}

}  // namespace

std::string rank(std::string_view request_json, const Corpus& corpus) {
    nlohmann::json request;
    try {
        request = nlohmann::json::parse(request_json);
    } catch (const nlohmann::json::parse_error& error) {
        throw MalformedRequest(error.what());
    }
    if (!request.is_object()) throw MalformedRequest("the request must be a JSON object");
    const auto query = request.find("query");
    if (query == request.end() || !query->is_string()) throw MalformedRequest("\"query\" must be a string");
    const std::vector<Document> documents = documents_of(request);

    const Vector query_vector = tfidf(query->get<std::string>(), corpus);
    struct Scored {
        const Document* document;
        double score;
    };
    std::vector<Scored> scored;
    for (const auto& document : documents) scored.push_back({&document, cosine(query_vector, tfidf(document.text, corpus))});
    // Best first; equal scores keep the order they were given in.
    std::stable_sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) { return a.score > b.score; });

    nlohmann::json results = nlohmann::json::array();
    for (const auto& [document, score] : scored) {
        nlohmann::json result = {{"index", document->index}, {"score", score}};
        if (!document->id.is_null()) result["id"] = document->id;
        results.push_back(std::move(result));
    }
    return nlohmann::json{{"results", results}}.dump() + "\n";
}

}  // namespace similarity
