// One table (kind_rules) says, for each kind, its name, the query parameter
// that becomes JobParams::n and that parameter's bounds; parse_job, run_job
// and result_json all read it, so a bound checked when a request arrives is
// the same bound checked again before computing.
#include "worker/compute/kinds.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <cstring>

#include "worker/compute/fib.hpp"
#include "worker/compute/hash.hpp"
#include "worker/compute/primes.hpp"
#include "worker/fault_injection.hpp"
#include "worker/query.hpp"

namespace clusterd::worker::compute {
namespace {

struct KindRule {
    JobKind kind;
    std::string_view name;       // the path segment, and "kind" in the JSON
    std::string_view parameter;  // the query parameter carried in JobParams::n
    std::uint64_t min;
    std::uint64_t max;
    std::optional<std::uint64_t> fallback;
};

constexpr std::array<KindRule, 3> kind_rules{{
    {JobKind::fib, "fib", "n", 0, fib_max_n, std::nullopt},
    {JobKind::primes, "primes", "limit", primes_min_limit, primes_max_limit, std::nullopt},
    {JobKind::hash, "hash", "rounds", hash_min_rounds, hash_max_rounds, hash_default_rounds},
}};

// Takes the raw number because JobParams::kind may hold anything.
[[nodiscard]] const KindRule* rule_for(std::uint32_t kind) {
    for (const auto& rule : kind_rules) {
        if (static_cast<std::uint32_t>(rule.kind) == kind) return &rule;
    }
    return nullptr;
}

using ParsedJob = std::variant<JobParams, std::string>;

// Empty when fine, else the 400 sentence.
[[nodiscard]] std::optional<std::string> parse_hash_data(std::string_view query, JobParams& params) {
    const auto raw = query_raw_param(query, "data");
    const auto data = raw ? percent_decode(*raw) : std::string(hash_default_data);
    if (!data) return "data must be percent-encoded: every '%' takes two hex digits";
    if (data->size() > hash_max_data_bytes) {
        return "data must be at most " + std::to_string(hash_max_data_bytes) + " bytes, not " +
               std::to_string(data->size());
    }
    std::memcpy(params.data, data->data(), data->size());
    params.data_length = static_cast<std::uint32_t>(data->size());
    return std::nullopt;
}

[[nodiscard]] ParsedJob parse_work(const KindRule& rule, std::string_view query) {
    auto n = query_uint(query, rule.parameter, rule.min, rule.max, rule.fallback);
    if (auto* error = std::get_if<std::string>(&n)) return std::move(*error);
    JobParams params;
    params.kind = static_cast<std::uint32_t>(rule.kind);
    params.n = std::get<std::uint64_t>(n);
    if (rule.kind == JobKind::hash) {
        if (auto error = parse_hash_data(query, params)) return std::move(*error);
    }
    return params;
}

// crash=1 / hang=1; "=0" is the same as leaving the flag out.
[[nodiscard]] std::variant<JobFault, std::string> parse_fault(std::string_view query, bool fault_injection) {
    struct Flag {
        std::string_view name;
        JobFault fault;
    };
    JobFault chosen = JobFault::none;
    for (const Flag flag : {Flag{"crash", JobFault::crash}, Flag{"hang", JobFault::hang}}) {
        auto value = query_uint(query, flag.name, 0, 1, 0);
        if (auto* error = std::get_if<std::string>(&value)) return std::move(*error);
        if (std::get<std::uint64_t>(value) == 0) continue;
        if (!fault_injection) return std::string(flag.name) + "=1 needs the daemon started with --enable-fault-injection";
        if (chosen != JobFault::none) return std::string("crash=1 and hang=1 cannot be combined");
        chosen = flag.fault;
    }
    return chosen;
}

[[nodiscard]] bool within_bounds(const KindRule& rule, const JobParams& params) {
    return params.n >= rule.min && params.n <= rule.max && params.data_length <= job_data_capacity &&
           params.fault <= static_cast<std::uint32_t>(JobFault::hang);
}

[[nodiscard]] JobResult with_status(JobStatus status) {
    JobResult result;
    result.status = static_cast<std::uint32_t>(status);
    return result;
}

[[nodiscard]] JobResult run_hash(const JobParams& params) {
    const auto key = pbkdf2_sha256(std::string_view(params.data, params.data_length), hash_salt,
                                   static_cast<std::uint32_t>(params.n));
    if (!key) {
        spdlog::warn("PKCS5_PBKDF2_HMAC() failed for a hash job of {} rounds", params.n);
        return with_status(JobStatus::invalid);
    }
    JobResult result = with_status(JobStatus::ok);
    const std::string hex = lowercase_hex(*key);
    static_assert(sizeof result.digest_hex > 2 * std::tuple_size_v<Pbkdf2Key>, "room for the NUL");
    std::memcpy(result.digest_hex, hex.data(), hex.size());
    return result;
}

// params are within their rule's bounds.
[[nodiscard]] JobResult compute(JobKind kind, const JobParams& params) {
    switch (kind) {
        case JobKind::fib: {
            JobResult result = with_status(JobStatus::ok);
            result.value = fib(static_cast<unsigned>(params.n));
            return result;
        }
        case JobKind::primes: {
            JobResult result = with_status(JobStatus::ok);
            result.value = count_primes(params.n);
            return result;
        }
        case JobKind::hash:
            return run_hash(params);
    }
    return with_status(JobStatus::invalid);  // not reached: rule_for knows only the three
}

[[nodiscard]] std::string_view error_sentence(std::uint32_t status) {
    if (status == static_cast<std::uint32_t>(JobStatus::crashed)) return "the compute executor died running this job";
    return "the job's parameters were refused";
}

}  // namespace

std::optional<JobKind> job_kind_from_path(std::string_view name) {
    for (const auto& rule : kind_rules) {
        if (rule.name == name) return rule.kind;
    }
    return std::nullopt;
}

std::string_view job_kind_name(JobKind kind) {
    const KindRule* rule = rule_for(static_cast<std::uint32_t>(kind));
    return rule ? rule->name : std::string_view("unknown");
}

std::variant<JobParams, std::string> parse_job(JobKind kind, std::string_view query, bool fault_injection) {
    const KindRule* rule = rule_for(static_cast<std::uint32_t>(kind));
    if (rule == nullptr) return std::string("unknown compute kind");
    ParsedJob parsed = parse_work(*rule, query);
    if (auto* params = std::get_if<JobParams>(&parsed)) {
        auto fault = parse_fault(query, fault_injection);
        if (auto* error = std::get_if<std::string>(&fault)) return std::move(*error);
        params->fault = static_cast<std::uint32_t>(std::get<JobFault>(fault));
    }
    return parsed;
}

JobResult run_job(const JobParams& shared) {
    // One private copy: a writer still scribbling on `shared` cannot change
    // a value between its check and its use.
    const JobParams params = shared;
    const KindRule* rule = rule_for(params.kind);
    if (rule == nullptr || !within_bounds(*rule, params)) return with_status(JobStatus::invalid);
    if (params.fault == static_cast<std::uint32_t>(JobFault::crash)) segfault();
    if (params.fault == static_cast<std::uint32_t>(JobFault::hang)) spin_forever();

    const auto start = std::chrono::steady_clock::now();
    JobResult result = compute(rule->kind, params);
    const auto spent = std::chrono::steady_clock::now() - start;
    result.compute_us = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(spent).count());
    return result;
}

std::string result_json(const JobParams& params, const JobResult& result) {
    const KindRule* rule = rule_for(params.kind);
    nlohmann::ordered_json json;
    json["kind"] = rule ? rule->name : std::string_view("unknown");
    if (rule == nullptr || result.status != static_cast<std::uint32_t>(JobStatus::ok)) {
        json["error"] = error_sentence(result.status);
        return json.dump() + "\n";
    }
    json[std::string(rule->parameter)] = params.n;
    switch (rule->kind) {
        case JobKind::fib:
            json["result"] = result.value;
            break;
        case JobKind::primes:
            json["count"] = result.value;
            break;
        case JobKind::hash:
            json["data_bytes"] = params.data_length;
            json["digest"] = std::string_view(result.digest_hex, strnlen(result.digest_hex, sizeof result.digest_hex));
            break;
    }
    json["compute_ms"] = static_cast<double>(result.compute_us) / 1000.0;
    // replace: a digest that is not text (a corrupt result) must not throw.
    return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string describe_job(const JobParams& params) {
    const auto kind = static_cast<JobKind>(params.kind);
    const char* parameter = kind == JobKind::primes ? "limit" : kind == JobKind::hash ? "rounds" : "n";
    return std::string(job_kind_name(kind)) + " " + parameter + "=" + std::to_string(params.n);
}

}  // namespace clusterd::worker::compute
