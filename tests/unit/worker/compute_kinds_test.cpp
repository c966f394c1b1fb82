#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstring>
#include <limits>
#include <string>

#include "worker/compute/hash.hpp"
#include "worker/compute/kinds.hpp"
#include "worker/compute/primes.hpp"

using namespace clusterd;
using namespace clusterd::worker::compute;

namespace {

JobParams parsed(JobKind kind, std::string_view query, bool fault_injection = false) {
    auto job = parse_job(kind, query, fault_injection);
    if (auto* error = std::get_if<std::string>(&job)) FAIL("parse_job refused '" << query << "': " << *error);
    return std::get<JobParams>(job);
}

std::string refusal(JobKind kind, std::string_view query, bool fault_injection = false) {
    auto job = parse_job(kind, query, fault_injection);
    REQUIRE(std::holds_alternative<std::string>(job));
    return std::get<std::string>(job);
}

JobResult ran(JobKind kind, std::string_view query) {
    JobResult result = run_job(parsed(kind, query));
    REQUIRE(result.status == static_cast<std::uint32_t>(JobStatus::ok));
    return result;
}

std::string hex_of(std::string_view data, std::string_view salt, std::uint32_t rounds) {
    auto key = pbkdf2_sha256(data, salt, rounds);
    REQUIRE(key);
    return lowercase_hex(*key);
}

}  // namespace

TEST_CASE("kinds are named by their path segment and back", "[worker][compute][kinds]") {
    for (auto kind : {JobKind::fib, JobKind::primes, JobKind::hash}) {
        REQUIRE(job_kind_from_path(job_kind_name(kind)) == kind);
    }
    REQUIRE(job_kind_name(JobKind::primes) == "primes");
    REQUIRE_FALSE(job_kind_from_path("fibonacci"));
    REQUIRE_FALSE(job_kind_from_path(""));
    REQUIRE(job_kind_name(static_cast<JobKind>(99)) == "unknown");
}

TEST_CASE("fib computes the known value", "[worker][compute][kinds]") {
    REQUIRE(ran(JobKind::fib, "n=30").value == 832040);
    REQUIRE(ran(JobKind::fib, "n=0").value == 0);
    REQUIRE(ran(JobKind::fib, "n=1").value == 1);
}

TEST_CASE("the sieve counts the primes up to a limit", "[worker][compute][kinds]") {
    auto [limit, count] = GENERATE(table<std::uint64_t, std::uint64_t>({
        {2, 1}, {3, 2}, {4, 2}, {9, 4}, {10, 4}, {25, 9}, {49, 15}, {121, 30}, {1'000'000, 78498}, {10'000'000, 664579},
    }));
    CAPTURE(limit);
    REQUIRE(ran(JobKind::primes, "limit=" + std::to_string(limit)).value == count);
    REQUIRE(count_primes(limit) == count);
}

TEST_CASE("the sieve handles the largest allowed limit", "[worker][compute][kinds]") {
    REQUIRE(count_primes(primes_max_limit) == 3'001'134);
    REQUIRE(count_primes(0) == 0);
    REQUIRE(count_primes(1) == 0);
}

TEST_CASE("PBKDF2-HMAC-SHA256 matches the RFC 7914 section 11 vectors", "[worker][compute][kinds]") {
    // dkLen 64 in the RFC; PBKDF2's first 32-byte block does not depend on dkLen.
    REQUIRE(hex_of("passwd", "salt", 1) == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
    REQUIRE(hex_of("Password", "NaCl", 80000) == "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56");
}

TEST_CASE("a hash job digests its decoded data with the clusterd salt", "[worker][compute][kinds]") {
    SECTION("defaults: 10000 rounds of \"clusterd\"") {
        const JobParams params = parsed(JobKind::hash, "");
        REQUIRE(params.n == hash_default_rounds);
        REQUIRE(std::string_view(params.data, params.data_length) == "clusterd");
        REQUIRE(std::string(run_job(params).digest_hex) == hex_of("clusterd", "clusterd", 10000));
    }
    SECTION("binary data is percent-decoded") {
        const JobParams params = parsed(JobKind::hash, "rounds=3&data=a%00b");
        REQUIRE(params.data_length == 3);
        REQUIRE(std::string(run_job(params).digest_hex) == hex_of(std::string_view("a\0b", 3), "clusterd", 3));
    }
    SECTION("empty data is allowed") {
        const JobParams params = parsed(JobKind::hash, "rounds=1&data=");
        REQUIRE(params.data_length == 0);
        REQUIRE(std::string(run_job(params).digest_hex) == hex_of("", "clusterd", 1));
    }
}

TEST_CASE("every bound is accepted at its edge", "[worker][compute][kinds]") {
    REQUIRE(parsed(JobKind::fib, "n=0").n == 0);
    REQUIRE(parsed(JobKind::fib, "n=45").n == 45);
    REQUIRE(parsed(JobKind::primes, "limit=2").n == 2);
    REQUIRE(parsed(JobKind::primes, "limit=50000000").n == 50'000'000);
    REQUIRE(parsed(JobKind::hash, "rounds=1").n == 1);
    REQUIRE(parsed(JobKind::hash, "rounds=5000000").n == 5'000'000);
    REQUIRE(parsed(JobKind::hash, "data=" + std::string(64, 'x')).data_length == 64);
    const JobParams fib = parsed(JobKind::fib, "n=3&other=ignored");
    REQUIRE(fib.kind == static_cast<std::uint32_t>(JobKind::fib));
    REQUIRE(fib.fault == static_cast<std::uint32_t>(JobFault::none));
}

TEST_CASE("a parameter outside its bounds is refused with a precise sentence", "[worker][compute][kinds]") {
    auto [kind, query, sentence] = GENERATE(table<JobKind, std::string, std::string>({
        {JobKind::fib, "", "n must be an integer from 0 to 45 (missing)"},
        {JobKind::fib, "n=46", "n must be an integer from 0 to 45, not '46'"},
        {JobKind::fib, "n=-1", "n must be an integer from 0 to 45, not '-1'"},
        {JobKind::primes, "", "limit must be an integer from 2 to 50000000 (missing)"},
        {JobKind::primes, "limit=1", "limit must be an integer from 2 to 50000000, not '1'"},
        {JobKind::primes, "limit=50000001", "limit must be an integer from 2 to 50000000, not '50000001'"},
        {JobKind::hash, "rounds=0", "rounds must be an integer from 1 to 5000000, not '0'"},
        {JobKind::hash, "rounds=5000001", "rounds must be an integer from 1 to 5000000, not '5000001'"},
        {JobKind::hash, "data=" + std::string(65, 'x'), "data must be at most 64 bytes, not 65"},
        {JobKind::hash, "data=%zz", "data must be percent-encoded: every '%' takes two hex digits"},
        {JobKind::fib, "n=1&crash=yes", "crash must be an integer from 0 to 1, not 'yes'"},
        {JobKind::fib, "n=1&hang=2", "hang must be an integer from 0 to 1, not '2'"},
    }));
    CAPTURE(query);
    REQUIRE(refusal(kind, query, true) == sentence);
    REQUIRE(refusal(static_cast<JobKind>(99), "n=1") == "unknown compute kind");
}

TEST_CASE("fault flags need fault injection", "[worker][compute][kinds]") {
    SECTION("refused without it") {
        REQUIRE(refusal(JobKind::fib, "n=1&crash=1") == "crash=1 needs the daemon started with --enable-fault-injection");
        REQUIRE(refusal(JobKind::hash, "hang=1") == "hang=1 needs the daemon started with --enable-fault-injection");
        REQUIRE(parsed(JobKind::fib, "n=1&crash=0&hang=0").fault == static_cast<std::uint32_t>(JobFault::none));
    }
    SECTION("carried with it") {
        REQUIRE(parsed(JobKind::fib, "n=1&crash=1", true).fault == static_cast<std::uint32_t>(JobFault::crash));
        REQUIRE(parsed(JobKind::primes, "limit=9&hang=1", true).fault == static_cast<std::uint32_t>(JobFault::hang));
        REQUIRE(refusal(JobKind::fib, "n=1&crash=1&hang=1", true) == "crash=1 and hang=1 cannot be combined");
    }
}

TEST_CASE("params corrupted in shared memory are invalid, never computed", "[worker][compute][kinds]") {
    const auto huge = std::numeric_limits<std::uint64_t>::max();
    auto [kind, n, data_length, fault] = GENERATE_COPY(table<std::uint32_t, std::uint64_t, std::uint32_t, std::uint32_t>({
        {0, 1, 0, 0},
        {99, 1, 0, 0},
        {1, 46, 0, 0},
        {1, huge, 0, 0},
        {2, 1, 0, 0},
        {2, 1'000'000'000'000, 0, 0},  // would be a 62 GB sieve
        {2, huge, 0, 0},
        {3, 0, 0, 0},
        {3, huge, 0, 0},
        {3, 1, 65, 0},
        {3, 1, std::numeric_limits<std::uint32_t>::max(), 0},
        {1, 10, 0, 3},  // no such fault
    }));
    JobParams params;
    params.kind = kind;
    params.n = n;
    params.data_length = data_length;
    params.fault = fault;
    CAPTURE(kind, n, data_length, fault);
    const JobResult result = run_job(params);
    REQUIRE(result.status == static_cast<std::uint32_t>(JobStatus::invalid));
    REQUIRE(result.value == 0);
    REQUIRE(result_json(params, result).find("\"error\":") != std::string::npos);
}

TEST_CASE("a crash fault is a real SIGSEGV", "[worker][compute][kinds]") {
    const JobParams params = parsed(JobKind::fib, "n=1&crash=1", true);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // Catch2's own SIGSEGV handler would report (and allocate) first;
        // a compute process dies with the default disposition.
        std::signal(SIGSEGV, SIG_DFL);
        (void)run_job(params);
        _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGSEGV);
}

TEST_CASE("results are one line of JSON", "[worker][compute][kinds]") {
    JobResult result;
    result.status = static_cast<std::uint32_t>(JobStatus::ok);
    result.compute_us = 1234;
    SECTION("fib") {
        result.value = 832040;
        REQUIRE(result_json(parsed(JobKind::fib, "n=30"), result) ==
                "{\"kind\":\"fib\",\"n\":30,\"result\":832040,\"compute_ms\":1.234}\n");
    }
    SECTION("primes") {
        result.value = 78498;
        REQUIRE(result_json(parsed(JobKind::primes, "limit=1000000"), result) ==
                "{\"kind\":\"primes\",\"limit\":1000000,\"count\":78498,\"compute_ms\":1.234}\n");
    }
    SECTION("hash, without echoing the data") {
        const JobParams params = parsed(JobKind::hash, "rounds=1000&data=secret");
        std::memcpy(result.digest_hex, "00ff", 5);
        REQUIRE(result_json(params, result) ==
                "{\"kind\":\"hash\",\"rounds\":1000,\"data_bytes\":6,\"digest\":\"00ff\",\"compute_ms\":1.234}\n");
    }
    SECTION("a crashed job says so instead of giving numbers") {
        result.status = static_cast<std::uint32_t>(JobStatus::crashed);
        REQUIRE(result_json(parsed(JobKind::fib, "n=30"), result) ==
                "{\"kind\":\"fib\",\"error\":\"the compute executor died running this job\"}\n");
    }
    SECTION("a real run measures its time") {
        const JobParams params = parsed(JobKind::primes, "limit=10000000");
        const JobResult measured = run_job(params);
        REQUIRE(measured.compute_us > 0);
        REQUIRE_THAT(result_json(params, measured), Catch::Contains("\"count\":664579,\"compute_ms\":"));
    }
}
