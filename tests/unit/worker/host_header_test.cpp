#include "worker/host_header.hpp"

#include <catch2/catch.hpp>
#include <string>

using clusterd::worker::is_valid_host;

TEST_CASE("a Host value is a host with an optional port, as RFC 9110 writes it", "[worker][host]") {
    const std::string valid = GENERATE(as<std::string>{}, "", "example.com", "example.com:8080", "127.0.0.1:0",
                                       "localhost:", "[::1]", "[::1]:8080", "[fe80::1%25eth0]", "xn--caf-dma.example",
                                       "a-b_c~d.e", "%41pi.example", "sub!$&'()*+,;=delims");
    INFO("Host: " << valid);
    CHECK(is_valid_host(valid));
}

TEST_CASE("a Host value that two parsers could read differently is invalid", "[worker][host]") {
    const std::string invalid =
        GENERATE(as<std::string>{}, "exa mple.com", "example.com/path", "user@example.com", "example.com:80:80",
                 "example.com:http", "example.com:123456", ":8080", "[::1", "[::1]x", "[::1]:x", "::1", "%4",
                 "%zz.example", "a\"b", "a<b>", "a\\b", "example.com?x", "example.com#x");
    INFO("Host: " << invalid);
    CHECK_FALSE(is_valid_host(invalid));
}
