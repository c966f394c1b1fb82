// What stands behind a clusterd::Reply: one response a connection is owed.
// The connection (a ReplyTarget) creates it for an asynchronous route and
// detaches it if the client leaves; the Reply handles the application holds
// keep it alive. Everything here runs on the loop thread of that connection.
//
//   pending ─send()→ sent            the target gets the response once
//   pending ─detach()→ detached      the client left: its job is cancelled,
//                                    its timers closed, callbacks dropped
//   pending ─last Reply dropped→     the target gets a 500 (nobody will answer)
#pragma once

#include <uv.h>

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "clusterd/reply.hpp"
#include "common/compute_job.hpp"
#include "common/config.hpp"
#include "worker/app_model.hpp"
#include "worker/compute/dispatcher.hpp"

namespace clusterd::worker {

// Where a reply goes: the connection that waits for it.
class ReplyTarget {
public:
    virtual void deliver(const clusterd::Response& response) = 0;

protected:
    ~ReplyTarget() = default;
};

// What a reply may use while pending: all of it outlives every connection.
struct ReplyServices {
    compute::Dispatcher& dispatcher;
    const detail::AppModel& app;
    const Config& config;
    uv_loop_t* loop;
};

// The fault injection flags of the request (crash=1, hang=1): a fault for
// its tasks, or the 400 sentence when they are malformed or not enabled.
struct RequestFault {
    JobFault fault = JobFault::none;
    std::optional<std::string> refusal;
};
[[nodiscard]] RequestFault request_fault(std::string_view query, bool fault_injection);

// A finished job as the application sees it.
// own_deadline: the task set its deadline (else it is --compute-timeout's).
[[nodiscard]] TaskResult task_result(const compute::JobAnswer& answer, const std::string& task, Millis deadline,
                                     bool own_deadline);

}  // namespace clusterd::worker

namespace clusterd::detail {

class ReplyState : public std::enable_shared_from_this<ReplyState> {
public:
    // what: "POST /score (route /score)", for log lines.
    ReplyState(worker::ReplyTarget& target, const worker::ReplyServices& services, worker::RequestFault fault,
               std::string what);
    ~ReplyState();
    ReplyState(const ReplyState&) = delete;
    ReplyState& operator=(const ReplyState&) = delete;

    void send(Response response);
    [[nodiscard]] bool pending() const { return target_ != nullptr; }
    void run_task(std::string_view task, std::string input, std::function<void(Reply, TaskResult)> done);
    void after(std::chrono::milliseconds delay, std::function<void(Reply)> then);
    // The client left, or the connection closes: nothing is delivered any more.
    void detach();

private:
    struct Timer;
    void finish_task(const std::string& task, const worker::compute::JobAnswer& answer,
                     const std::function<void(Reply, TaskResult)>& done);
    void close_timers();

    worker::ReplyTarget* target_;
    worker::ReplyServices services_;
    worker::RequestFault fault_;
    std::string what_;
    std::optional<worker::compute::JobId> job_;
    std::set<Timer*> timers_;
};

}  // namespace clusterd::detail
