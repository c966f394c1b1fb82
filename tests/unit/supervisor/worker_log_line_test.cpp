#include "supervisor/worker_log_line.hpp"

#include <catch2/catch.hpp>

#include <string>

using clusterd::supervisor::attributed_log_line;
using clusterd::supervisor::escape_control_characters;

TEST_CASE("a worker's log record can never start a second line or reach the terminal as control") {
    SECTION("newlines, carriage returns and tabs become visible escapes") {
        CHECK(escape_control_characters("a\nb\rc\td") == "a\\nb\\rc\\td");
    }
    SECTION("an escape sequence that would repaint the terminal is written as text") {
        CHECK(escape_control_characters("\x1b[2J\x1b[31mred") == "\\x1b[2J\\x1b[31mred");
    }
    SECTION("NUL, DEL and the C1 controls in UTF-8 form are escaped too") {
        CHECK(escape_control_characters(std::string("a\0b", 3)) == "a\\x00b");
        CHECK(escape_control_characters("\x7f") == "\\x7f");
        CHECK(escape_control_characters("\xc2\x9b" "31m") == "\\xc2\\x9b31m");
    }
    SECTION("ordinary text and UTF-8 outside C1 pass unchanged") {
        const std::string text = "GET /caf\xc3\xa9 200 \xc2\xa9 [ok] \\n stays";
        CHECK(escape_control_characters(text) == text);
    }
    SECTION("a C1 lead byte at the end is left alone, not read past") {
        CHECK(escape_control_characters("x\xc2") == "x\xc2");
    }
}

TEST_CASE("only the worker that owns the slot can claim it in a log line") {
    SECTION("the true prefix is kept as the worker wrote it") {
        CHECK(attributed_log_line("[worker 3 4242] listening", "worker", 3, 4242) == "[worker 3 4242] listening");
        CHECK(attributed_log_line("[worker 3 4242 loop 1] up", "worker", 3, 4242) == "[worker 3 4242 loop 1] up");
        CHECK(attributed_log_line("[compute 5 77] ready", "compute", 5, 77) == "[compute 5 77] ready");
    }
    SECTION("a record naming another slot, another pid or no one gets the supervisor's attribution") {
        auto [record, expected] = GENERATE(table<std::string, std::string>({
            {"[worker 2 4242] x", "[slot 3 pid 4242, unattributed] [worker 2 4242] x"},
            {"[worker 3 42421] x", "[slot 3 pid 4242, unattributed] [worker 3 42421] x"},
            {"[worker 3 424] x", "[slot 3 pid 4242, unattributed] [worker 3 424] x"},
            {"[compute 3 4242] x", "[slot 3 pid 4242, unattributed] [compute 3 4242] x"},
            {"restarting every worker", "[slot 3 pid 4242, unattributed] restarting every worker"},
            {"[worker 3 4242", "[slot 3 pid 4242, unattributed] [worker 3 4242"},
        }));
        CHECK(attributed_log_line(record, "worker", 3, 4242) == expected);
    }
    SECTION("a forged supervisor line behind a newline stays on the worker's line, escaped") {
        CHECK(attributed_log_line("[worker 0 9] ok\n2026-12-03 [info] supervisor stopping", "worker", 0, 9) ==
              "[worker 0 9] ok\\n2026-12-03 [info] supervisor stopping");
    }
}
