// The public API's declarations (include/clusterd/): App, Request, Response,
// Counter, offload. Declaring fills the AppModel (app_model.hpp) that the
// worker serves from.
#include <cctype>
#include <stdexcept>

#include "clusterd/app.hpp"
#include "common/compute_job.hpp"
#include "common/shm_layout.hpp"
#include "worker/app_counters.hpp"
#include "worker/app_model.hpp"
#include "worker/request_view.hpp"

namespace clusterd {
namespace {

// What clusterd answers itself, before any application route.
constexpr std::string_view reserved_paths[] = {"/healthz", "/readyz", "/metrics", "/status", "/debug/crash"};

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

thread_local std::atomic<std::uint64_t>* bound_counters = nullptr;

}  // namespace

std::string_view to_string(Method method) {
    switch (method) {
        case Method::get: return "GET";
        case Method::head: return "HEAD";
        case Method::post: return "POST";
        case Method::put: return "PUT";
        case Method::patch: return "PATCH";
        case Method::del: return "DELETE";
    }
    return "?";
}

Method Request::method() const { return view_->method; }
std::string_view Request::path() const { return view_->target.path; }
std::string_view Request::route() const { return view_->route; }
std::string_view Request::raw_query() const { return view_->target.query; }
std::string_view Request::body() const { return view_->raw.body; }

std::optional<std::string_view> Request::param(std::string_view name) const {
    for (const auto& [key, value] : view_->params) {
        if (key == name) return std::string_view(value);
    }
    return std::nullopt;
}

std::optional<std::string> Request::query(std::string_view name) const {
    return worker::query_param(view_->target.query, name);
}

std::optional<std::string_view> Request::header(std::string_view name) const {
    for (const auto& [key, value] : view_->raw.headers) {
        if (iequals(key, name)) return std::string_view(value);
    }
    return std::nullopt;
}

Response Response::text(unsigned status, std::string body) {
    if (!body.empty() && body.back() != '\n') body += '\n';
    return Response{status, "text/plain; charset=utf-8", std::move(body), {}};
}

Response Response::json(unsigned status, std::string body) {
    return Response{status, "application/json", std::move(body), {}};
}

void Counter::add(std::uint64_t amount) const {
    if (bound_counters != nullptr && index_ < max_app_counters) {
        bound_counters[index_].fetch_add(amount, std::memory_order_relaxed);
    }
}

App::App(std::string name) : model_(std::make_unique<detail::AppModel>()) { model_->name = std::move(name); }
App::~App() = default;

namespace {

void check_not_reserved(std::string_view pattern) {
    for (std::string_view reserved : reserved_paths) {
        if (pattern == reserved) {
            throw std::invalid_argument("route " + std::string(pattern) + " is clusterd's own");
        }
    }
}

}  // namespace

App& App::route(Method method, std::string_view pattern, Handler handler, RouteOptions options) {
    return add_route(method, pattern, std::move(handler), {}, options);
}

App& App::route(Method method, std::string_view pattern, AsyncHandler handler, RouteOptions options) {
    return add_route(method, pattern, {}, std::move(handler), options);
}

App& App::add_route(Method method, std::string_view pattern, Handler handler, AsyncHandler async,
                    RouteOptions options) {
    check_not_reserved(pattern);
    if (model_->routes.size() >= max_routes) {
        throw std::invalid_argument("an application has at most " + std::to_string(max_routes) + " routes");
    }
    if (!handler && !async) throw std::invalid_argument("route " + std::string(pattern) + " has no handler");
    (void)model_->routes.add(method, pattern);
    model_->handlers.push_back({std::move(handler), std::move(async), options.max_body});
    return *this;
}

App& App::task(std::string name, TaskFunction function, TaskOptions options) {
    if (name.empty()) throw std::invalid_argument("a task needs a name");
    if (model_->task_index(name)) throw std::invalid_argument("task " + name + " is declared twice");
    if (model_->tasks.size() >= max_tasks) {
        throw std::invalid_argument("an application has at most " + std::to_string(max_tasks) + " tasks");
    }
    if (!function) throw std::invalid_argument("task " + name + " has no function");
    model_->tasks.push_back({std::move(name), std::move(function), options});
    return *this;
}

App& App::on_worker_start(StartHook hook) {
    model_->worker_hooks.push_back(std::move(hook));
    return *this;
}

App& App::on_compute_start(StartHook hook) {
    model_->compute_hooks.push_back(std::move(hook));
    return *this;
}

Counter App::counter(std::string name) {
    const bool valid = !name.empty() && name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
    if (!valid) throw std::invalid_argument("counter '" + name + "': names are [a-z0-9_]+");
    for (const auto& existing : model_->counters) {
        if (existing == name) throw std::invalid_argument("counter " + name + " is declared twice");
    }
    if (model_->counters.size() >= max_app_counters) {
        throw std::invalid_argument("an application has at most " + std::to_string(max_app_counters) + " counters");
    }
    model_->counters.push_back(std::move(name));
    return Counter(static_cast<std::uint32_t>(model_->counters.size() - 1));
}

AsyncHandler offload(std::string task, std::string content_type) {
    return [task = std::move(task), content_type = std::move(content_type)](const Request& request, Reply reply) {
        reply.run_task(task, std::string(request.body()), [content_type](Reply done, TaskResult result) {
            done.send(task_response(result, content_type));
        });
    };
}

}  // namespace clusterd

namespace clusterd::worker {

void bind_app_counters(std::atomic<std::uint64_t>* counters) { bound_counters = counters; }

}  // namespace clusterd::worker
