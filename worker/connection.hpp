// One client connection on a worker's loop: bytes in, Beast-parsed requests,
// responses out in request order, and every way a connection ends.
//
// Phases (the single deadline, in the loop's DeadlineWheel, means something
// different in each):
//   idle        no request started      timer: idle timeout, or the drain quiet window
//   reading     a request has begun     timer: header timeout → 408
//   responding  a route's response is due later: an application's
//               asynchronous reply is pending (a client that leaves meanwhile
//               detaches it, cancelling its task), or fault injection's slow mode
//   lingering   our FIN is due once the queued responses are sent (timer: the
//               send timeout, for a peer that stopped reading), then sent;
//               reading and discarding until the peer's FIN
//               timer: linger bound. Closing with unread input would send RST
//               and could destroy the response we just wrote (nginx's
//               lingering_close exists for the same reason).
//   closing     uv_close called; the object deletes itself in the close callbacks
//
// Pipelined requests are parsed and answered one after the other, so their
// responses leave in order by construction.
#pragma once

#include <uv.h>

#include <optional>
#include <string>

#include "common/config.hpp"
#include "worker/compute/dispatcher.hpp"
#include "worker/deadline_wheel.hpp"
#include "worker/http_request_reader.hpp"
#include "worker/http_response.hpp"
#include "worker/reply_state.hpp"
#include "worker/router.hpp"
#include "worker/slot_reporter.hpp"

namespace clusterd::worker {

class Connection;

// What a connection needs from the worker that owns it.
class ConnectionHost {
public:
    [[nodiscard]] virtual const Config& config() const = 0;
    [[nodiscard]] virtual RouteContext route_context() const = 0;
    [[nodiscard]] virtual HttpDate& date() = 0;
    // "<slot>-<generation>" with --worker-id-header, else empty.
    [[nodiscard]] virtual const std::string& worker_id() const = 0;
    [[nodiscard]] virtual DeadlineWheel& deadlines() = 0;  // the loop's one timer for every connection
    [[nodiscard]] virtual SlotReporter& reporter() = 0;
    [[nodiscard]] virtual compute::Dispatcher& dispatcher() = 0;
    [[nodiscard]] virtual ReplyServices reply_services() = 0;
    virtual uv_buf_t read_buffer() = 0;  // one buffer per loop: reads are copied out at once
    virtual void on_connection_closed(Connection& connection) = 0;
    virtual void on_request_finished() = 0;  // a response was queued (--max-requests counts these)

protected:
    ~ConnectionHost() = default;
};

class Connection final : public ReplyTarget {
public:
    enum class Admission { accepted, over_limit };

    // Takes ownership of an accepted socket. An over_limit connection is
    // answered 503 at once and closed.
    static Connection* open(uv_loop_t* loop, int fd, ConnectionHost& host, Admission admission);

    // The worker began draining: an idle connection gets the quiet window,
    // a busy one closes after its current response.
    void drain();

    // The loop's DeadlineWheel calls this when a connection's deadline passed
    // (every connection's Entry is owned by its Connection).
    static void on_deadline(DeadlineWheel::Entry& entry);

    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

private:
    enum class Phase { idle, reading, responding, lingering, closing };

    explicit Connection(ConnectionHost& host);
    ~Connection() = default;

    static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write(uv_write_t* request, int status);
    static void on_shutdown(uv_shutdown_t* request, int status);
    static void on_closed(uv_handle_t* handle);

    void handle_input();
    void answer(const Request& request);
    void serve_app(const Request& request, AppRoute& app_route, WireOptions options);
    void serve_async(const Request& request, AppRoute& app_route, const clusterd::Request& view,
                     const AsyncHandler& handler);
    void deliver(const clusterd::Response& response) override;
    void respond_now(const Response& response);
    void respond_late(const Response& response);
    void send(const Response& response, WireOptions options);
    void after_response(bool keep_alive);
    void begin_close();
    void close_now();
    void write_raw(std::string data);
    void arm_timer(Millis timeout);
    void go_idle();
    [[nodiscard]] bool write_queue_full() const;
    [[nodiscard]] bool input_full() const;
    void pause_or_resume_reading();

    ConnectionHost& host_;
    uv_tcp_t tcp_{};
    DeadlineWheel::Entry deadline_{this};
    RequestReader reader_;
    std::string input_;
    Phase phase_ = Phase::idle;
    std::optional<Response> delayed_;
    detail::ReplyState* reply_ = nullptr;  // the pending asynchronous reply, if any (it points back at us)
    bool in_handler_ = false;               // an application handler is on the stack
    std::optional<std::size_t> app_route_;  // the application route being answered, for its metrics
    std::int64_t route_started_us_ = 0;
    WireOptions delayed_options_;
    bool read_paused_ = false;
    bool peer_closed_ = false;
    bool counted_ = false;  // reported as open on the scoreboard
    int open_handles_ = 1;
};

}  // namespace clusterd::worker
