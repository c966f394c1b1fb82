// Walks docs/OPERATING.md's reload table: every option the daemon has is in
// it, and reloading each row's example onto the defaults is applied or
// refused exactly as the row says.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "supervisor/reload_check.hpp"

using namespace clusterd;
using clusterd::supervisor::reload_refusal;

namespace {

struct Row {
    std::string on_reload;  // applied, refused or re-read
    std::vector<std::string> example;
};

std::map<std::string, Row> reload_table() {
    std::ifstream in(CLUSTERD_OPERATING_MD);
    REQUIRE(in.good());
    const std::regex row(R"(^\| `(--[a-z-]+)` \| ([a-z-]+) \| [^|]+ \| (?:`([^`]*)`|—) \|$)");
    std::map<std::string, Row> table;
    for (std::string line; std::getline(in, line);) {
        std::smatch match;
        if (!std::regex_match(line, match, row)) continue;
        Row entry{match[2], {}};
        std::istringstream words(match[3].str());
        for (std::string word; words >> word;) entry.example.push_back(word);
        table[match[1]] = entry;
    }
    return table;
}

Config parse(std::vector<std::string> words) {
    words.insert(words.begin(), "clusterd");
    std::vector<const char*> argv;
    for (auto& word : words) argv.push_back(word.c_str());
    auto result = parse_config(static_cast<int>(argv.size()), argv.data());
    if (auto* exit = std::get_if<ExitRequest>(&result)) FAIL(exit->text);
    return std::get<Config>(result);
}

// Every long option --help lists, but --help and --version.
std::vector<std::string> options_in_help() {
    const auto help = std::get<ExitRequest>([] {
        const char* argv[] = {"clusterd", "--help"};
        return parse_config(2, argv);
    }());
    const std::regex option(R"(^\s+(?:-[a-z],)?(--[a-z][a-z-]*))");
    std::vector<std::string> options;
    std::istringstream lines(help.text);
    for (std::string line; std::getline(lines, line);) {
        std::smatch match;
        if (std::regex_search(line, match, option) && match[1] != "--help" && match[1] != "--version") {
            options.push_back(match[1]);
        }
    }
    return options;
}

constexpr unsigned http_slots = 16;  // what the defaults give an instance of two workers

}  // namespace

TEST_CASE("every option of --help is in the reload table, and every row is an option", "[supervisor][reload_check]") {
    const auto table = reload_table();
    const auto options = options_in_help();
    REQUIRE(options.size() > 30);
    for (const auto& option : options) {
        INFO(option);
        CHECK(table.contains(option));
    }
    for (const auto& [option, row] : table) {
        INFO(option);
        CHECK(std::find(options.begin(), options.end(), option) != options.end());
        CHECK((row.on_reload == "applied" || row.on_reload == "refused" || row.on_reload == "re-read"));
    }
}

TEST_CASE("reloading each row's example is applied or refused as the table says", "[supervisor][reload_check]") {
    const Config now = parse({"--workers", "2"});
    for (const auto& [option, row] : reload_table()) {
        if (row.on_reload == "re-read") continue;
        std::vector<std::string> words = row.example;
        if (option != "--workers") words.insert(words.end(), {"--workers", "2"});
        const Config next = parse(words);
        INFO(option << " (example: " << row.example.size() << " words): " << row.on_reload);
        CHECK(next.accepted != now.accepted);  // the example changes something
        const std::string refusal = reload_refusal(now, next, http_slots);
        CHECK(refusal.empty() == (row.on_reload == "applied"));
        if (!refusal.empty()) CHECK_THAT(refusal, Catch::Contains(option));
    }
}

TEST_CASE("more workers than the instance has slots for, or --workers with --model=threads, are refused",
          "[supervisor][reload_check]") {
    CHECK_THAT(reload_refusal(parse({"--workers", "2"}), parse({"--workers", "16"}), http_slots),
               Catch::Contains("--workers 16"));
    CHECK(reload_refusal(parse({"--workers", "2"}), parse({"--workers", "15"}), http_slots).empty());
    CHECK_THAT(reload_refusal(parse({"--workers", "2", "--model", "threads"}),
                              parse({"--workers", "3", "--model", "threads"}), http_slots),
               Catch::Contains("--model=threads"));
    CHECK_THAT(reload_refusal(parse({"--compute", "processes"}), parse({"--compute", "processes", "--compute-queue", "9"}),
                              http_slots),
               Catch::Contains("--compute-queue"));
    CHECK_THAT(reload_refusal(parse({"--compute", "processes"}),
                              parse({"--compute", "processes", "--task-max-output", "4KiB"}), http_slots),
               Catch::Contains("--task-max-output"));
}

TEST_CASE("more hot spares than the instance has slots for are refused, fewer or more within them applied",
          "[supervisor][reload_check]") {
    CHECK(reload_refusal(parse({"--workers", "2"}), parse({"--workers", "2", "--spares", "13"}), http_slots).empty());
    CHECK_THAT(reload_refusal(parse({"--workers", "2"}), parse({"--workers", "2", "--spares", "14"}), http_slots),
               Catch::Contains("--spares 14"));
    CHECK(reload_refusal(parse({"--workers", "2", "--spares", "3"}), parse({"--workers", "2"}), http_slots).empty());
    // --model=threads: one process is --workers slots; 16 slots of 4 loops hold 4 processes.
    CHECK(reload_refusal(parse({"--workers", "4", "--model", "threads"}),
                         parse({"--workers", "4", "--model", "threads", "--spares", "2"}), http_slots)
              .empty());
    CHECK_THAT(reload_refusal(parse({"--workers", "4", "--model", "threads"}),
                              parse({"--workers", "4", "--model", "threads", "--spares", "3"}), http_slots),
               Catch::Contains("--spares 3"));
}
