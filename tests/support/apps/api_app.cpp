// Not a test: an application built on the public API only (include/clusterd/), for the
// integration tests of that API (tests/integration/app_api_test.cpp): every
// kind of route, task, hook and error an application can have.
//
// API_APP_FAIL_WORKER_HOOK=1 / API_APP_FAIL_COMPUTE_HOOK=1 make the hooks throw.
#include <clusterd/app.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

std::atomic<int> worker_hooks_ran{0};  // in this process (per loop with --model=threads)
thread_local bool compute_hook_ran = false;  // on this executor thread (or process)

bool env_set(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr && std::string(value) == "1";
}

std::string reverse(std::string_view input) { return std::string(input.rbegin(), input.rend()); }

}  // namespace

int main(int argc, char** argv) {
    using clusterd::Reply;
    using clusterd::Request;
    using clusterd::Response;
    using clusterd::TaskResult;

    clusterd::App app{"api-test"};
    const clusterd::Counter hits = app.counter("hits");

    app.on_worker_start([] {
        if (env_set("API_APP_FAIL_WORKER_HOOK")) throw std::runtime_error("the worker hook refuses to start");
        ++worker_hooks_ran;
    });
    app.on_compute_start([] {
        if (env_set("API_APP_FAIL_COMPUTE_HOOK")) throw std::runtime_error("the compute hook refuses to start");
        compute_hook_ran = true;
    });

    app.task("reverse", reverse);
    app.task("hooked", [](std::string_view) { return std::string(compute_hook_ran ? "compute hook ran" : "no hook"); });
    app.task("fail", [](std::string_view) -> std::string { throw std::runtime_error("the task gave up"); });
    app.task("strict", [](std::string_view input) -> std::string {
        if (input.empty() || !std::all_of(input.begin(), input.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            throw clusterd::BadInput("not a number: '" + std::string(input.substr(0, 20)) + "'");
        }
        return std::string(input);
    });
    app.task("grow", [](std::string_view input) {
        std::string out;
        for (int i = 0; i < 1000; ++i) out += input;
        return out;
    });
    clusterd::TaskOptions small;
    small.max_input = 16;
    app.task("small", reverse, small);
    // Its own deadline, far below --compute-timeout: 504 long before it would finish.
    clusterd::TaskOptions hurried;
    hurried.deadline = std::chrono::milliseconds(200);
    app.task(
        "slow",
        [](std::string_view) {
            std::this_thread::sleep_for(std::chrono::seconds(3));
            return std::string("too late");
        },
        hurried);

    app.get("/items/{id}", [hits](const Request& r) {
        hits.add();
        return Response::json(200, "{\"id\":\"" + std::string(*r.param("id")) + "\",\"q\":\"" +
                                       r.query("q").value_or("-") + "\",\"header\":\"" +
                                       std::string(r.header("x-test").value_or("-")) + "\",\"route\":\"" +
                                       std::string(r.route()) + "\"}");
    });
    const auto method_name = [](const Request& r) {
        return Response::text(200, std::string(clusterd::to_string(r.method())) + " " + std::string(*r.param("id")) +
                                       " " + std::string(r.body()));
    };
    app.put("/items/{id}", method_name).patch("/items/{id}", method_name).del("/items/{id}", method_name);
    app.post("/echo", clusterd::offload("reverse"));
    app.post("/fail", clusterd::offload("fail"));
    app.post("/strict", clusterd::offload("strict"));
    app.post("/grow", clusterd::offload("grow"));
    app.post("/small", clusterd::offload("small"));
    app.post("/tiny", clusterd::offload("reverse"), clusterd::RouteOptions{16});
    app.post("/slow", clusterd::offload("slow"));
    app.get("/missing-task", clusterd::offload("no-such-task"));
    app.get("/hooks", [](const Request&, Reply reply) {
        reply.run_task("hooked", "", [](Reply done, TaskResult result) {
            done.send(Response::text(200, "worker hooks " + std::to_string(worker_hooks_ran.load()) + ", " +
                                              result.output));
        });
    });
    app.get("/later", [](const Request& r, Reply reply) {
        const int ms = std::stoi(r.query("ms").value_or("10"));
        reply.after(std::chrono::milliseconds(ms), [ms](Reply later) {
            Response response = Response::text(200, "answered after " + std::to_string(ms) + " ms");
            response.headers.emplace_back("X-Later", "yes");
            response.headers.emplace_back("Content-Length", "999");  // clusterd's own: dropped
            later.send(response);
        });
    });
    app.get("/throw", [](const Request&) -> Response { throw std::runtime_error("the handler gave up"); });
    app.get("/drop", [](const Request&, Reply) {});
    app.get("/status-odd", [](const Request&) { return Response::text(42, "not a status"); });
    // Leaves a process behind, as a handler's `system("cmd &")` would: a
    // child that forks a grandchild and exits at once, so the grandchild
    // (which lives ?ms, default 200) is orphaned. Answers with its pid.
    app.get("/orphan", [](const Request& r) {
        const int ms = std::stoi(r.query("ms").value_or("200"));
        int pipe_fds[2];
        if (::pipe(pipe_fds) != 0) return Response::text(500, "pipe() failed");
        const pid_t child = ::fork();
        if (child == 0) {
            const pid_t grandchild = ::fork();
            if (grandchild == 0) {
                ::close(pipe_fds[0]);
                ::close(pipe_fds[1]);
                ::usleep(static_cast<useconds_t>(ms) * 1000);
                ::_exit(0);
            }
            (void)!::write(pipe_fds[1], &grandchild, sizeof grandchild);
            ::_exit(0);
        }
        ::close(pipe_fds[1]);
        pid_t grandchild = 0;
        (void)!::read(pipe_fds[0], &grandchild, sizeof grandchild);
        ::close(pipe_fds[0]);
        ::waitpid(child, nullptr, 0);
        return Response::text(200, std::to_string(grandchild));
    });
    return clusterd::run(app, argc, argv);
}
