// The fork server's request encoding (common/fork_request.hpp): what encode
// writes decode reads back, and anything else is refused, not guessed at.
#include "common/fork_request.hpp"

#include <catch2/catch.hpp>

using clusterd::fork_request::decode;
using clusterd::fork_request::encode;
using clusterd::fork_request::Request;

TEST_CASE("fork request: what encode writes decode reads back, words and descriptor targets alike", "[unit][fork]") {
    const Request request{{"/usr/bin/clusterd", "--role", "worker", "", "a\nb c"}, {4, 5, 6, 3}};
    const auto back = decode(encode(request), 4);
    REQUIRE(back);
    CHECK(back->words == request.words);
    CHECK(back->targets == request.targets);
}

TEST_CASE("fork request: a wrong descriptor count, a target below 3 or twice, no words or stray bytes are refused",
          "[unit][fork]") {
    const Request request{{"clusterd", "--role", "worker"}, {4, 5}};
    const auto bytes = encode(request);
    CHECK_FALSE(decode(bytes, 1));                                            // fewer descriptors came than it names
    CHECK_FALSE(decode(encode(Request{{"clusterd"}, {2}}), 1));              // 0-2 are the fork server's own
    CHECK_FALSE(decode(encode(Request{{"clusterd"}, {4, 4}}), 2));           // one number twice
    CHECK_FALSE(decode(encode(Request{{}, {}}), 0));                         // nothing to run
    CHECK_FALSE(decode(bytes + "x", 2));                                     // trailing bytes
    CHECK_FALSE(decode(bytes.substr(0, bytes.size() - 1), 2));               // cut short
    CHECK_FALSE(decode("CDFR", 0));
    CHECK_FALSE(decode("", 0));
    std::string wrong_magic = bytes;
    wrong_magic[0] ^= 1;
    CHECK_FALSE(decode(wrong_magic, 2));
    CHECK_FALSE(decode(encode(Request{{std::string("a\0b", 3)}, {}}), 0));  // a NUL inside a word
}
