// A clusterd application: routes and tasks declared in main, then run().
//
//   #include <clusterd/app.hpp>
//   int main(int argc, char** argv) {
//       clusterd::App app{"scorer"};
//       app.task("score", score_documents);               // bytes in, bytes out, on the executor
//       app.post("/score", clusterd::offload("score", "application/json"));
//       app.get("/items/{id}", [](const clusterd::Request& r) {
//           return clusterd::Response::json(200, "{\"id\":\"" + std::string(*r.param("id")) + "\"}");
//       });
//       return clusterd::run(app, argc, argv);
//   }
//
// Ownership: the App owns what it is given (handlers, tasks, hooks) and must
// outlive run(). Declare everything before run(); the App is read-only from
// then on. Every process clusterd starts (supervisor, HTTP workers, compute
// processes) is this same binary, running this same main: a declaration
// that differs between runs of main (on a random number, say) is a bug.
// Threading: declaring is single-threaded; handlers run on event-loop
// threads (one per HTTP worker process, or one per loop with
// --model=threads), tasks on the executor (task.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "clusterd/http.hpp"
#include "clusterd/reply.hpp"
#include "clusterd/task.hpp"

namespace clusterd {

namespace detail {
struct AppModel;  // clusterd's own; not part of the API
}

// A quick handler: runs on the event loop and answers at once. It must not
// block (no disk, no sleeping, no heavy CPU: that is what tasks are for).
using Handler = std::function<Response(const Request&)>;
// A handler that answers later, through the Reply.
using AsyncHandler = std::function<void(const Request&, Reply)>;
// Runs once per HTTP worker loop, or once per compute executor (thread or
// process), before it takes work. Throwing fails that process's start
// (exit code 2: the supervisor's breaker, not a restart loop).
using StartHook = std::function<void()>;

// How much request body a route takes. clusterd checks a request's head
// against it before reading any of the body: a larger declared body (or
// any chunked body, for a route that takes none) is a 413 and the
// connection is closed, so a body-less route costs a hostile client's
// megabytes nothing. A body is only ever buffered up to this limit.
struct RouteOptions {
    // Bytes. Unset: --max-body-size for POST, PUT and PATCH routes, none
    // for GET, HEAD and DELETE. Never more than --max-body-size.
    std::optional<std::uint64_t> max_body;
};

// An application counter: kept in the scoreboard, summed over the cluster
// in /metrics (clusterd_app_<name>_total) and /status. Cheap (one relaxed
// atomic add), callable from handlers and tasks on any thread.
class Counter {
public:
    void add(std::uint64_t amount = 1) const;

private:
    friend class App;
    explicit Counter(std::uint32_t index) : index_(index) {}
    std::uint32_t index_;
};

class App {
public:
    // name: what the logs and /status call the service.
    explicit App(std::string name);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    // Routes: an exact path ("/healthz") or one with {param} segments
    // ("/items/{id}"). A known path asked with another method is 405 with
    // Allow; anything else is 404. GET routes answer HEAD too. A request body
    // is taken up to options.max_body (RouteOptions). Throws
    // std::invalid_argument on a malformed or duplicate pattern, or a path
    // clusterd keeps for itself (/healthz, /readyz, /metrics, /status).
    App& route(Method method, std::string_view pattern, Handler handler, RouteOptions options = {});
    App& route(Method method, std::string_view pattern, AsyncHandler handler, RouteOptions options = {});
    App& get(std::string_view pattern, Handler handler, RouteOptions options = {}) {
        return route(Method::get, pattern, std::move(handler), options);
    }
    App& get(std::string_view pattern, AsyncHandler handler, RouteOptions options = {}) {
        return route(Method::get, pattern, std::move(handler), options);
    }
    App& post(std::string_view pattern, Handler handler, RouteOptions options = {}) {
        return route(Method::post, pattern, std::move(handler), options);
    }
    App& post(std::string_view pattern, AsyncHandler handler, RouteOptions options = {}) {
        return route(Method::post, pattern, std::move(handler), options);
    }
    App& put(std::string_view pattern, Handler handler, RouteOptions options = {}) {
        return route(Method::put, pattern, std::move(handler), options);
    }
    App& put(std::string_view pattern, AsyncHandler handler, RouteOptions options = {}) {
        return route(Method::put, pattern, std::move(handler), options);
    }
    App& patch(std::string_view pattern, Handler handler, RouteOptions options = {}) {
        return route(Method::patch, pattern, std::move(handler), options);
    }
    App& patch(std::string_view pattern, AsyncHandler handler, RouteOptions options = {}) {
        return route(Method::patch, pattern, std::move(handler), options);
    }
    App& del(std::string_view pattern, Handler handler, RouteOptions options = {}) {
        return route(Method::del, pattern, std::move(handler), options);
    }
    App& del(std::string_view pattern, AsyncHandler handler, RouteOptions options = {}) {
        return route(Method::del, pattern, std::move(handler), options);
    }

    // A named task (at most 32). Throws std::invalid_argument on a duplicate
    // or empty name, or too many tasks.
    App& task(std::string name, TaskFunction function, TaskOptions options = {});

    App& on_worker_start(StartHook hook);
    App& on_compute_start(StartHook hook);

    // A counter named [a-z0-9_]+ (at most 32). Throws std::invalid_argument otherwise.
    [[nodiscard]] Counter counter(std::string name);

    [[nodiscard]] const detail::AppModel& model() const { return *model_; }

private:
    App& add_route(Method method, std::string_view pattern, Handler handler, AsyncHandler async,
                   RouteOptions options);

    std::unique_ptr<detail::AppModel> model_;
};

// A handler that runs `task` on the request body and answers with its
// output (200, content_type) or the outcome's status (task_response).
[[nodiscard]] AsyncHandler offload(std::string task, std::string content_type = "application/octet-stream");

// The whole daemon: parses the options and CLUSTERD_* variables, then runs
// as the supervisor, an HTTP worker, a compute process or a subcommand
// (status, reload, upgrade), whichever this process was started as.
// Returns the process exit code (2: configuration or start-up error).
[[nodiscard]] int run(const App& app, int argc, char** argv);

}  // namespace clusterd
