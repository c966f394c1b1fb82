// An answer that comes later: an asynchronous handler gets a Reply and may
// send its response after the handler returned (when a task finished, or
// from a timer).
//
// Ownership: a Reply is a cheap copyable handle; copies refer to one
// pending response. The first send() answers; later ones are ignored.
// If the client goes away first, the Reply becomes inert: send() does
// nothing, a task it started and not yet running is cancelled, and its
// callbacks are not called. A Reply dropped without send() is answered 500
// when the last copy goes, so a client never waits for nothing.
// Threading: use a Reply only on the event-loop thread that created it;
// every callback below runs on that thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "clusterd/http.hpp"
#include "clusterd/task.hpp"

namespace clusterd {

namespace detail {
class ReplyState;  // clusterd's own; not part of the API
}

class Reply {
public:
    explicit Reply(std::shared_ptr<detail::ReplyState> state) : state_(std::move(state)) {}

    void send(Response response);

    // True until send() or until the client left.
    [[nodiscard]] bool pending() const;

    // Runs the named task on `input` with the configured executor; `done` gets
    // the result on the loop thread (not called if the client left first). An
    // unknown task name is a failed result, at once.
    void run_task(std::string_view task, std::string input, std::function<void(Reply, TaskResult)> done);

    // Calls `then` on the loop after `delay` (not if the client left first).
    void after(std::chrono::milliseconds delay, std::function<void(Reply)> then);

private:
    std::shared_ptr<detail::ReplyState> state_;
};

// The response clusterd gives for a task's result: 200 with the output and
// content_type, otherwise the status the outcome names (task.hpp) with
// the error as text.
[[nodiscard]] Response task_response(const TaskResult& result, std::string_view content_type);

}  // namespace clusterd
