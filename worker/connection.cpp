#include "worker/connection.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/monotonic.hpp"
#include "worker/request_view.hpp"
#include "worker/wire_response.hpp"

namespace clusterd::worker {
namespace {

// Stop reading a client that sends faster than it reads our responses.
constexpr std::size_t write_queue_limit = 1024 * 1024;
// Stop reading a client whose pipelined requests pile up unparsed while we
// are still on an earlier one (a compute job, say): without a bound one
// connection could buffer gigabytes, and every request taken from the front
// of a large buffer moves all of it. A partial head never waits on this
// (the limit is at least the header limit), so reading always resumes.
constexpr std::size_t min_input_limit = 64 * 1024;
// How long a closing connection may take to send its FIN after ours.
constexpr Millis linger_limit{2000};

struct WriteRequest {
    uv_write_t request{};
    std::string data;
};

template <typename T>
uv_handle_t* as_handle(T* handle) {
    return reinterpret_cast<uv_handle_t*>(handle);
}
template <typename T>
uv_stream_t* as_stream(T* handle) {
    return reinterpret_cast<uv_stream_t*>(handle);
}

}  // namespace

Connection::Connection(ConnectionHost& host)
    : host_(host),
      reader_(host.config().max_header_size, host.config().max_body_size,
              [&host](std::string_view method, std::string_view target) {
                  return body_allowance(method, target, host.route_context(), host.config().max_body_size);
              }) {}

Connection* Connection::open(uv_loop_t* loop, int fd, ConnectionHost& host, Admission admission) {
    auto* connection = new Connection(host);
    uv_tcp_init(loop, &connection->tcp_);
    connection->tcp_.data = connection;
    if (int rc = uv_tcp_open(&connection->tcp_, fd); rc != 0) {
        spdlog::warn("uv_tcp_open() failed for an accepted connection: {}", uv_strerror(rc));
        ::close(fd);
        connection->close_now();
        return connection;
    }
    uv_tcp_nodelay(&connection->tcp_, 1);
    host.reporter().connection_opened();
    connection->counted_ = true;
    if (admission == Admission::over_limit) {
        Response refused = text_response(503, "too many connections on this worker");
        refused.headers.emplace_back("Retry-After", "1");
        connection->send(refused, WireOptions{false, false, false});
        connection->begin_close();
        return connection;
    }
    uv_read_start(as_stream(&connection->tcp_), on_alloc, on_read);
    connection->go_idle();
    return connection;
}

void Connection::drain() {
    if (phase_ == Phase::idle) arm_timer(host_.config().drain_quiet);
}

void Connection::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
    *buf = static_cast<Connection*>(handle->data)->host_.read_buffer();
}

void Connection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Connection*>(stream->data);
    if (nread == 0) return;  // EAGAIN
    if (nread < 0) {
        self->peer_closed_ = true;
        uv_read_stop(stream);
        // A response still due is sent (the peer may only have half-closed);
        // anything else has nobody left to answer. A pending compute job is
        // the exception: like nginx's client-abort rule, a client gone
        // before its job ran cancels it instead of burning a core for nobody.
        if (self->phase_ != Phase::responding || self->reply_ != nullptr) self->close_now();
        return;
    }
    if (self->phase_ == Phase::lingering) return;  // discarded on purpose
    if (self->phase_ == Phase::closing) return;
    self->host_.reporter().bytes_received(static_cast<std::size_t>(nread));
    self->input_.append(buf->base, static_cast<std::size_t>(nread));
    if (self->phase_ == Phase::idle) {
        self->phase_ = Phase::reading;
        self->arm_timer(self->host_.config().header_timeout);
    }
    self->handle_input();
    if (self->phase_ != Phase::closing) self->pause_or_resume_reading();
}

void Connection::handle_input() {
    while (phase_ == Phase::reading || phase_ == Phase::idle) {
        if (write_queue_full()) {
            uv_read_stop(as_stream(&tcp_));
            read_paused_ = true;
            return;
        }
        ReadResult result = reader_.read(input_);
        switch (result.kind) {
            case ReadResult::Kind::need_more:
                if (reader_.take_continue_request()) write_raw("HTTP/1.1 100 Continue\r\n\r\n");
                if (input_.empty() && !reader_.in_request() && phase_ == Phase::idle) go_idle();
                return;
            case ReadResult::Kind::error: {
                spdlog::debug("refusing a request: {} {}", result.status, result.reason);
                host_.reporter().parse_error();
                Response refused = text_response(result.status, result.reason);
                refused.close = true;
                send(refused, WireOptions{false, false, false});
                after_response(false);
                return;
            }
            case ReadResult::Kind::request:
                answer(result.request);
                break;
        }
    }
}

void Connection::answer(const Request& request) {
    host_.deadlines().disarm(deadline_);
    phase_ = Phase::responding;
    host_.reporter().request_started(request.method, request.target, monotonic_ms());
    RouteResult routed = route(request, host_.route_context());
    WireOptions options{request.is_head(), request.keep_alive && !peer_closed_ && !host_.route_context().draining,
                        request.version == 10};
    if (auto* app_route = std::get_if<AppRoute>(&routed)) {
        serve_app(request, *app_route, options);
        return;
    }
    const Response& response = std::get<Response>(routed);
    const bool keep_alive = options.keep_alive && !response.close;
    options.keep_alive = keep_alive;
    if (response.delay.count() > 0) {
        delayed_ = std::move(response);
        delayed_options_ = options;
        arm_timer(delayed_->delay);
        return;
    }
    send(response, options);
    after_response(keep_alive);
}

// The application's handler runs here, on the loop; whatever it throws is
// this request's 500 and a log line naming the route, never the worker's end.
void Connection::serve_app(const Request& request, AppRoute& app_route, WireOptions options) {
    const detail::AppModel& app = *host_.route_context().app;
    const std::string& pattern = app.routes.pattern(app_route.index);
    app_route_ = app_route.index;
    route_started_us_ = monotonic_us();
    delayed_options_ = options;
    const detail::RequestView view{request, app_route.method, app_route.target, pattern, app_route.params};
    const clusterd::Request public_request(view);
    const detail::RouteSpec& spec = app.handlers[app_route.index];
    if (spec.async) {
        serve_async(request, app_route, public_request, spec.async);
        return;
    }
    in_handler_ = true;
    try {
        respond_now(wire_response(spec.handler(public_request)));
    } catch (const std::exception& error) {
        spdlog::error("route {} {} threw: {}; answered 500", request.method.substr(0, 16), pattern, error.what());
        respond_now(text_response(500, "internal error"));
    } catch (...) {
        spdlog::error("route {} {} threw something that is not a std::exception; answered 500",
                      request.method.substr(0, 16), pattern);
        respond_now(text_response(500, "internal error"));
    }
    in_handler_ = false;
}

void Connection::serve_async(const Request& request, AppRoute& app_route, const clusterd::Request& view,
                             const AsyncHandler& handler) {
    const std::string what = request.method.substr(0, 16) + " " + app_route.target.path.substr(0, 200) + " (route " +
                             std::string(view.route()) + ")";
    auto state = std::make_shared<detail::ReplyState>(
        *this, host_.reply_services(), request_fault(app_route.target.query, host_.route_context().fault_injection),
        what);
    reply_ = state.get();
    // While the handler is on the stack a reply is sent at once, without
    // reading on: handle_input's loop, our caller, carries on after it.
    in_handler_ = true;
    try {
        handler(view, Reply(state));
    } catch (const std::exception& error) {
        spdlog::error("route {} threw: {}; answered 500", what, error.what());
        state->send(clusterd::Response::text(500, "internal error"));
    } catch (...) {
        spdlog::error("route {} threw something that is not a std::exception; answered 500", what);
        state->send(clusterd::Response::text(500, "internal error"));
    }
    state.reset();  // a handler that kept no Reply is answered 500 here
    in_handler_ = false;
}

void Connection::deliver(const clusterd::Response& response) {
    reply_ = nullptr;
    if (in_handler_) {
        respond_now(wire_response(response));
    } else {
        respond_late(wire_response(response));
    }
}

void Connection::respond_now(const Response& response) {
    WireOptions options = delayed_options_;
    options.keep_alive =
        options.keep_alive && !response.close && !peer_closed_ && !host_.route_context().draining;
    send(response, options);
    after_response(options.keep_alive);
}

// A response that was due later is ready: send it, then carry on with any
// pipelined request that waited behind it.
void Connection::respond_late(const Response& response) {
    WireOptions options = delayed_options_;
    options.keep_alive =
        options.keep_alive && !response.close && !peer_closed_ && !host_.route_context().draining;
    send(response, options);
    after_response(options.keep_alive);
    if (!options.keep_alive) return;
    handle_input();
    if (phase_ != Phase::closing) pause_or_resume_reading();
}

void Connection::send(const Response& response, WireOptions options) {
    std::string wire;
    wire.reserve(256 + response.body.size());
    options.worker_id = &host_.worker_id();
    serialize(response, options, host_.date().now(), wire);
    if (app_route_) {
        host_.reporter().route_finished(*app_route_, response.status,
                                        static_cast<std::uint64_t>(std::max<std::int64_t>(0, monotonic_us() - route_started_us_)));
        app_route_.reset();
    }
    host_.reporter().request_finished(response.status, wire.size());
    host_.on_request_finished();
    write_raw(std::move(wire));
}

void Connection::write_raw(std::string data) {
    if (phase_ == Phase::closing) return;
    if (uv_stream_get_write_queue_size(as_stream(&tcp_)) == 0) {
        // Most responses fit the socket buffer at once. Writing them directly
        // skips the heap write request and, in libuv 1.44, the epoll_ctl()
        // that finishing a queued write costs (seen in perf: ~2 % of a worker).
        uv_buf_t whole = uv_buf_init(data.data(), static_cast<unsigned>(data.size()));
        const int written = uv_try_write(as_stream(&tcp_), &whole, 1);
        if (written == static_cast<int>(data.size())) return;
        if (written > 0) {
            data.erase(0, static_cast<std::size_t>(written));
        } else if (written != UV_EAGAIN) {
            spdlog::debug("write to a client failed: {}", uv_strerror(written));
            close_now();
            return;
        }
    }
    auto* write = new WriteRequest{};
    write->data = std::move(data);
    write->request.data = this;
    uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
    if (int rc = uv_write(&write->request, as_stream(&tcp_), &buf, 1, on_write); rc != 0) {
        delete write;
        spdlog::debug("uv_write() failed: {}", uv_strerror(rc));
        close_now();
    }
}

void Connection::on_write(uv_write_t* request, int status) {
    auto* write = reinterpret_cast<WriteRequest*>(request);
    auto* self = static_cast<Connection*>(request->data);
    delete write;
    if (status == UV_ECANCELED) return;  // we are closing
    if (status < 0) {
        spdlog::debug("write to a client failed: {}", uv_strerror(status));
        self->close_now();
        return;
    }
    if (self->read_paused_ && !self->write_queue_full()) {
        self->handle_input();
        if (self->phase_ != Phase::closing) self->pause_or_resume_reading();
    }
}

void Connection::after_response(bool keep_alive) {
    if (!keep_alive) {
        begin_close();
        return;
    }
    if (input_.empty()) {
        go_idle();
    } else {
        phase_ = Phase::reading;  // a pipelined request is already here
        arm_timer(host_.config().header_timeout);
    }
}

void Connection::go_idle() {
    phase_ = Phase::idle;
    const Config& config = host_.config();
    arm_timer(host_.route_context().draining ? config.drain_quiet : config.idle_timeout);
}

bool Connection::write_queue_full() const {
    return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&tcp_)) > write_queue_limit;
}

bool Connection::input_full() const {
    return input_.size() >= std::max<std::size_t>(min_input_limit, host_.config().max_header_size);
}

// Reading waits while the client is ahead of us (write_queue_full,
// input_full) and resumes once we caught up; a closing or half-closed
// connection is left to begin_close and on_read's end-of-stream path.
void Connection::pause_or_resume_reading() {
    if (phase_ == Phase::lingering || phase_ == Phase::closing || peer_closed_) return;
    const bool pause = write_queue_full() || input_full();
    if (pause == read_paused_) return;
    read_paused_ = pause;
    if (pause) {
        uv_read_stop(as_stream(&tcp_));
    } else {
        uv_read_start(as_stream(&tcp_), on_alloc, on_read);
    }
}

void Connection::begin_close() {
    if (phase_ == Phase::lingering || phase_ == Phase::closing) return;
    phase_ = Phase::lingering;
    host_.deadlines().disarm(deadline_);
    input_.clear();
    auto* shutdown = new uv_shutdown_t{};
    shutdown->data = this;
    // uv_shutdown waits for the queued writes, then sends our FIN.
    if (uv_shutdown(shutdown, as_stream(&tcp_), on_shutdown) != 0) {
        delete shutdown;
        close_now();
        return;
    }
    // A peer that stopped reading would hold those writes, and so this
    // connection, forever: it gets --send-timeout, then it is closed.
    arm_timer(host_.config().send_timeout);
}

void Connection::on_shutdown(uv_shutdown_t* request, int status) {
    auto* self = static_cast<Connection*>(request->data);
    delete request;
    if (status == UV_ECANCELED) return;
    if (status < 0 || self->peer_closed_) {
        self->close_now();
        return;
    }
    if (!self->read_paused_) uv_read_start(as_stream(&self->tcp_), on_alloc, on_read);
    self->read_paused_ = false;
    self->arm_timer(linger_limit);
}

void Connection::on_deadline(DeadlineWheel::Entry& entry) {
    auto* self = static_cast<Connection*>(entry.owner());
    switch (self->phase_) {
        case Phase::idle:
            self->begin_close();
            return;
        case Phase::reading: {
            Response timeout = text_response(408, "request not received in time");
            self->send(timeout, WireOptions{false, false, false});
            self->after_response(false);
            return;
        }
        case Phase::responding: {
            if (!self->delayed_) return;
            Response response = std::move(*self->delayed_);
            self->delayed_.reset();
            self->respond_late(response);
            return;
        }
        case Phase::lingering:
            self->close_now();
            return;
        case Phase::closing:
            return;
    }
}

void Connection::arm_timer(Millis timeout) { host_.deadlines().arm(deadline_, timeout); }

void Connection::close_now() {
    if (phase_ == Phase::closing) return;
    phase_ = Phase::closing;
    if (reply_ != nullptr) std::exchange(reply_, nullptr)->detach();
    host_.deadlines().disarm(deadline_);
    uv_close(as_handle(&tcp_), on_closed);
}

void Connection::on_closed(uv_handle_t* handle) {
    auto* self = static_cast<Connection*>(handle->data);
    if (--self->open_handles_ > 0) return;
    if (self->counted_) self->host_.reporter().connection_closed();
    self->host_.on_connection_closed(*self);
    delete self;
}

}  // namespace clusterd::worker
