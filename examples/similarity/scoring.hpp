// The service's one task: a JSON request in, the documents ranked by
// similarity to the query out, best first.
//
//   in:  {"query": "text", "documents": ["text", ...] | [{"id": "a", "text": "..."}, ...]}
//   out: {"results": [{"index": 2, "id": "c", "score": 0.53}, ...]}
//
// A malformed request throws clusterd::BadInput-compatible std::invalid_argument
// with the reason (the JSON parser's own message for bad JSON).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tfidf.hpp"

namespace similarity {

inline constexpr std::size_t max_documents = 1000;

class MalformedRequest : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

[[nodiscard]] std::string rank(std::string_view request_json, const Corpus& corpus);

}  // namespace similarity
