#include "apps/clusterd/math_service.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <variant>

#include "apps/clusterd/fib.hpp"
#include "apps/clusterd/hash.hpp"
#include "apps/clusterd/primes.hpp"
#include "apps/clusterd/query_number.hpp"

namespace stock {
namespace {

using clusterd::BadInput;
using clusterd::Reply;
using clusterd::Request;
using clusterd::Response;
using clusterd::TaskResult;

// A task's input crossed an executor boundary (shared memory, with
// processes): it is checked again here, by the same rule as the route's.
std::uint64_t number_from(std::string_view text, std::string_view name, std::uint64_t min, std::uint64_t max) {
    auto parsed = parse_number(text, name, min, max);
    if (auto* error = std::get_if<std::string>(&parsed)) throw BadInput(*error);
    return std::get<std::uint64_t>(parsed);
}

std::string json_line(nlohmann::ordered_json json, std::chrono::steady_clock::time_point start) {
    const auto spent = std::chrono::steady_clock::now() - start;
    json["compute_ms"] = std::chrono::duration<double, std::milli>(spent).count();
    return json.dump() + "\n";
}

std::string fib_task(std::string_view input) {
    const auto start = std::chrono::steady_clock::now();
    const std::uint64_t n = number_from(input, "n", 0, fib_max_n);
    return json_line({{"kind", "fib"}, {"n", n}, {"result", fib(static_cast<unsigned>(n))}}, start);
}

std::string primes_task(std::string_view input) {
    const auto start = std::chrono::steady_clock::now();
    const std::uint64_t limit = number_from(input, "limit", primes_min_limit, primes_max_limit);
    return json_line({{"kind", "primes"}, {"limit", limit}, {"count", count_primes(limit)}}, start);
}

// Input: the rounds in decimal, a newline, then the data bytes.
std::string hash_task(std::string_view input) {
    const auto start = std::chrono::steady_clock::now();
    const auto newline = input.find('\n');
    if (newline == std::string_view::npos) throw BadInput("a hash job is 'rounds\\ndata'");
    const std::uint64_t rounds = number_from(input.substr(0, newline), "rounds", hash_min_rounds, hash_max_rounds);
    const std::string_view data = input.substr(newline + 1);
    if (data.size() > hash_max_data_bytes) throw BadInput("data must be at most 64 bytes");
    const auto key = pbkdf2_sha256(data, hash_salt, static_cast<std::uint32_t>(rounds));
    if (!key) throw std::runtime_error("PKCS5_PBKDF2_HMAC() failed");
    return json_line(
        {{"kind", "hash"}, {"rounds", rounds}, {"data_bytes", data.size()}, {"digest", lowercase_hex(*key)}}, start);
}

void answer_json(Reply reply, TaskResult result) { reply.send(clusterd::task_response(result, "application/json")); }

// A route that checks one bounded number and hands it to its task.
clusterd::AsyncHandler number_route(std::string task, std::string parameter, std::uint64_t min, std::uint64_t max) {
    return [=](const Request& request, Reply reply) {
        auto n = query_number(request, parameter, min, max);
        if (auto* error = std::get_if<std::string>(&n)) return reply.send(Response::text(400, *error));
        reply.run_task(task, std::to_string(std::get<std::uint64_t>(n)), answer_json);
    };
}

// True when the raw query has a data= whose escapes do not decode.
bool data_escape_broken(const Request& request) {
    const std::string_view query = request.raw_query();
    const bool present = query.starts_with("data=") || query.find("&data=") != std::string_view::npos;
    return present && !request.query("data");
}

void hash_route(const Request& request, Reply reply) {
    auto rounds = query_number(request, "rounds", hash_min_rounds, hash_max_rounds, hash_default_rounds);
    if (auto* error = std::get_if<std::string>(&rounds)) return reply.send(Response::text(400, *error));
    if (data_escape_broken(request)) {
        return reply.send(Response::text(400, "data must be percent-encoded: every '%' takes two hex digits"));
    }
    const std::string data = request.query("data").value_or(std::string(hash_default_data));
    if (data.size() > hash_max_data_bytes) {
        return reply.send(Response::text(400, "data must be at most " + std::to_string(hash_max_data_bytes) +
                                                  " bytes, not " + std::to_string(data.size())));
    }
    reply.run_task("hash", std::to_string(std::get<std::uint64_t>(rounds)) + "\n" + data, answer_json);
}

}  // namespace

void declare_math_service(clusterd::App& app) {
    app.task("fib", fib_task).task("primes", primes_task).task("hash", hash_task);
    app.get("/", [](const Request&) { return Response::text(200, "hello from clusterd"); });
    app.get("/compute/fib", number_route("fib", "n", 0, fib_max_n));
    app.get("/compute/primes", number_route("primes", "limit", primes_min_limit, primes_max_limit));
    app.get("/compute/hash", hash_route);
}

}  // namespace stock
