#include "tfidf.hpp"

#include <cctype>
#include <cmath>
#include <unordered_set>

namespace similarity {

std::vector<std::string> tokenize(std::string_view text) {
    std::vector<std::string> tokens;
    std::string current;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) != 0 && byte < 0x80) {
            current += static_cast<char>(std::tolower(byte));
        } else if (!current.empty()) {
            tokens.push_back(std::move(current));
            current.clear();
        }
    }
    if (!current.empty()) tokens.push_back(std::move(current));
    return tokens;
}

Corpus::Corpus(const std::vector<std::string>& documents) : documents_(documents.size()) {
    for (const auto& document : documents) {
        const auto tokens = tokenize(document);
        for (const auto& term : std::unordered_set<std::string>(tokens.begin(), tokens.end())) {
            ++document_frequency_[term];
        }
    }
}

double Corpus::idf(const std::string& term) const {
    const auto found = document_frequency_.find(term);
    const double df = found == document_frequency_.end() ? 0.0 : static_cast<double>(found->second);
    return std::log((static_cast<double>(documents_) + 1.0) / (df + 1.0)) + 1.0;
}

Vector tfidf(std::string_view text, const Corpus& corpus) {
    Vector vector;
    const auto tokens = tokenize(text);
    for (const auto& term : tokens) vector[term] += 1.0;
    for (auto& [term, weight] : vector) weight = weight / static_cast<double>(tokens.size()) * corpus.idf(term);
    return vector;
}

double cosine(const Vector& a, const Vector& b) {
    const Vector& small = a.size() <= b.size() ? a : b;
    const Vector& large = a.size() <= b.size() ? b : a;
    double dot = 0;
    for (const auto& [term, weight] : small) {
        if (const auto found = large.find(term); found != large.end()) dot += weight * found->second;
    }
    double norm_a = 0;
    double norm_b = 0;
    for (const auto& [term, weight] : a) norm_a += weight * weight;
    for (const auto& [term, weight] : b) norm_b += weight * weight;
    if (norm_a == 0 || norm_b == 0) return 0;
    return dot / (std::sqrt(norm_a) * std::sqrt(norm_b));
}

std::vector<std::string> builtin_corpus() {
    return {
        "The quick brown fox jumps over the lazy dog.",
        "A supervisor keeps worker processes alive and restarts the ones that crash.",
        "The event loop must stay responsive while CPU heavy work runs elsewhere.",
        "Shared memory lets processes exchange data without copying it through a socket.",
        "The weather today is sunny with a light breeze from the west.",
        "Cooking pasta takes boiling water, salt and a few minutes of patience.",
        "A database index speeds up queries at the cost of slower writes.",
        "The train to the city leaves every hour from the main station.",
        "Music and art are part of the culture of every people in the world.",
        "The cat sat on the mat and looked out of the window at the birds.",
        "Search engines rank documents by how well they match the words of a query.",
        "A good night of sleep helps the body and the mind recover.",
        "The team won the match after a long and difficult season.",
        "Interest rates and inflation shape the price of a house.",
        "The library lends books, music and films to anyone with a card.",
        "Gardening in spring means planting seeds and watering them every day.",
    };
}

}  // namespace similarity
