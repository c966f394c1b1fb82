// Clients for tests: a libcurl one for well-formed HTTP (one easy handle per
// HttpClient, so consecutive requests reuse the connection the way a real
// client would), and a raw socket for what curl will not send (pipelining,
// malformed requests, partial requests, idle connections).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clusterd::test {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookup; empty when absent.
[[nodiscard]] std::optional<std::string> find_header(const Headers& headers, std::string_view name);

struct HttpResponse {
    long status = 0;          // 0: no response (see error)
    std::string error;        // curl's message when the transfer failed
    Headers headers;          // of the final response (not of a 100 Continue)
    std::string body;
    long new_connections = 0; // CURLINFO_NUM_CONNECTS: connections this transfer had to open

    [[nodiscard]] std::optional<std::string> header(std::string_view name) const { return find_header(headers, name); }
};

class HttpClient {
public:
    explicit HttpClient(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(20));
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    HttpResponse get(const std::string& path, const Headers& headers = {});
    HttpResponse head(const std::string& path);
    HttpResponse post(const std::string& path, const std::string& body, const Headers& headers = {});
    HttpResponse request(const std::string& method, const std::string& path, const std::string& body,
                         const Headers& headers);

    // Called (on the calling thread) once the request head has been written
    // to the socket, e.g. to know that a request is in flight.
    void on_request_sent(std::function<void()> callback) { on_sent_ = std::move(callback); }

    // For libcurl's callbacks.
    void request_sent();
    HttpResponse* current() { return current_; }

private:
    void* curl_;
    std::uint16_t port_;
    std::chrono::milliseconds timeout_;
    std::function<void()> on_sent_;
    bool sent_ = false;
    HttpResponse* current_ = nullptr;
};

// A response as read off a raw socket.
struct RawResponse {
    std::string version;  // "HTTP/1.1"
    int status = 0;
    std::string reason;
    Headers headers;
    std::string body;

    [[nodiscard]] std::optional<std::string> header(std::string_view name) const { return find_header(headers, name); }
};

// Splits complete responses off the front of buffer (Content-Length framing
// only, which is all clusterd sends). head_only[i]: the i-th response of the
// connection answers a HEAD, so it has no body whatever Content-Length says;
// `index` is the number of responses already taken off this connection.
// Returns false on a malformed head (buffer is left as is then).
bool take_responses(std::string& buffer, std::vector<RawResponse>& out, const std::vector<bool>& head_only = {},
                    std::size_t index = 0);

class RawConnection {
public:
    // Connects to 127.0.0.1:port; throws std::runtime_error on failure.
    // receive_buffer > 0 sets SO_RCVBUF first, to make the server's writes
    // back up quickly (a slow reader).
    explicit RawConnection(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                           int receive_buffer = 0);
    ~RawConnection();
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    // Writes everything (one write when the kernel takes it); false on error.
    bool send(std::string_view bytes);
    // Half-close: our FIN, reading stays open.
    void shutdown_write();
    void close();

    // Reads until n complete responses have arrived (or the peer closes, or
    // timeout). Responses already buffered count. head_only as for take_responses.
    std::vector<RawResponse> read_responses(std::size_t n, std::chrono::milliseconds timeout,
                                            const std::vector<bool>& head_only = {});
    // Reads until the peer closes or timeout; returns whether it closed
    // (FIN or reset). Bytes read are kept for read_responses/received().
    bool wait_closed(std::chrono::milliseconds timeout);
    // Whether the peer has closed (as far as we have read).
    [[nodiscard]] bool closed() const { return closed_; }
    // Our end's port, to find the worker serving this connection.
    [[nodiscard]] std::uint16_t local_port() const;
    // Bytes received and not yet taken as responses.
    [[nodiscard]] const std::string& received() const { return buffer_; }

private:
    // One poll+read; false on timeout. Sets closed_ on EOF or error.
    bool read_some(std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    std::string buffer_;
    std::size_t responses_taken_ = 0;
    bool closed_ = false;
};

// A minimal request: "GET <path> HTTP/1.1\r\nHost: 127.0.0.1\r\n<extra>\r\n".
[[nodiscard]] std::string http_request(const std::string& method, const std::string& path,
                                       const std::string& extra_headers = "", const std::string& version = "HTTP/1.1");

}  // namespace clusterd::test
