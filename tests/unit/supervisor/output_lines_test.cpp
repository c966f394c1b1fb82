#include "supervisor/output_lines.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

using clusterd::supervisor::OutputLines;

namespace {

struct Collected {
    std::vector<std::pair<std::string, bool>> lines;
    OutputLines splitter;
    explicit Collected(std::size_t max_line)
        : splitter(max_line, [this](std::string_view line, bool cut) { lines.emplace_back(line, cut); }) {}
};

}  // namespace

TEST_CASE("a program's output becomes whole lines whatever the pipe's split", "[supervisor][output]") {
    Collected out(64);
    SECTION("one write, several lines, CRLF and LF") {
        out.splitter.feed("one\r\ntwo\nthree\n");
        REQUIRE(out.lines.size() == 3);
        CHECK(out.lines[0].first == "one");
        CHECK(out.lines[2].first == "three");
    }
    SECTION("a line split across reads is one line") {
        out.splitter.feed("hel");
        CHECK(out.lines.empty());
        out.splitter.feed("lo\nwor");
        out.splitter.feed("ld");
        out.splitter.finish();
        REQUIRE(out.lines.size() == 2);
        CHECK(out.lines[0].first == "hello");
        CHECK(out.lines[1].first == "world");  // the unfinished last line, at EOF
    }
    SECTION("empty lines are lines") {
        out.splitter.feed("\n\nx\n");
        REQUIRE(out.lines.size() == 3);
        CHECK(out.lines[0].first.empty());
    }
    SECTION("nothing pending at EOF writes nothing") {
        out.splitter.feed("a\n");
        out.splitter.finish();
        CHECK(out.lines.size() == 1);
    }
}

TEST_CASE("a line longer than the bound is cut, counted and costs no more memory than the bound",
          "[supervisor][output]") {
    Collected out(8);
    SECTION("in one write") {
        out.splitter.feed("0123456789abcdef\nnext\n");
        REQUIRE(out.lines.size() == 2);
        CHECK(out.lines[0] == std::pair<std::string, bool>("01234567", true));
        CHECK(out.lines[1] == std::pair<std::string, bool>("next", false));
        CHECK(out.splitter.dropped_bytes() == 8);
        CHECK(out.splitter.cut_lines() == 1);
    }
    SECTION("a line that never ends is still seen, once, and the rest is dropped") {
        for (int i = 0; i < 1000; ++i) out.splitter.feed("xxxxxxxxxx");
        REQUIRE(out.lines.size() == 1);
        CHECK(out.lines[0].second);
        CHECK(out.splitter.dropped_bytes() == 10'000 - 8);
        out.splitter.feed("\nafter\n");
        out.splitter.finish();
        REQUIRE(out.lines.size() == 2);
        CHECK(out.lines[1].first == "after");
    }
    SECTION("exactly the bound is not cut") {
        out.splitter.feed("01234567\n");
        REQUIRE(out.lines.size() == 1);
        CHECK_FALSE(out.lines[0].second);
        CHECK(out.splitter.cut_lines() == 0);
    }
}
