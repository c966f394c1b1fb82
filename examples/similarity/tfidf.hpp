// TF-IDF vectors and cosine similarity over tokenised text.
//
// A term's weight in a document is its frequency there times its inverse
// document frequency in a background corpus, idf(t) = ln((N + 1) / (df(t) + 1)) + 1,
// so words every text has ("the", "and") count little and rare ones much.
// A term the corpus never saw gets the largest idf, ln(N + 1) + 1.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace similarity {

// Lowercase runs of ASCII letters and digits; everything else separates.
[[nodiscard]] std::vector<std::string> tokenize(std::string_view text);

class Corpus {
public:
    // Each string is one document of the background corpus.
    explicit Corpus(const std::vector<std::string>& documents);

    [[nodiscard]] double idf(const std::string& term) const;
    [[nodiscard]] std::size_t documents() const { return documents_; }

private:
    std::unordered_map<std::string, std::size_t> document_frequency_;
    std::size_t documents_ = 0;
};

using Vector = std::unordered_map<std::string, double>;

[[nodiscard]] Vector tfidf(std::string_view text, const Corpus& corpus);

// 0 when either vector is empty.
[[nodiscard]] double cosine(const Vector& a, const Vector& b);

// A small English background corpus, so the service works without a file.
[[nodiscard]] std::vector<std::string> builtin_corpus();

}  // namespace similarity
