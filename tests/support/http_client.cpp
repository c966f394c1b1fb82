#include "tests/support/http_client.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace clusterd::test {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n')) {
        text.remove_suffix(1);
    }
    return std::string(text);
}

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* client = static_cast<HttpClient*>(user);
    if (auto* response = client->current()) response->body.append(data, size * count);
    return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* client = static_cast<HttpClient*>(user);
    const std::string_view line(data, size * count);
    if (auto* response = client->current()) {
        if (line.substr(0, 5) == "HTTP/") {
            response->headers.clear();  // a new response (after a 100 Continue, say)
        } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
            response->headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
        }
    }
    return size * count;
}

int on_debug(CURL*, curl_infotype type, char*, std::size_t, void* user) {
    if (type == CURLINFO_HEADER_OUT) static_cast<HttpClient*>(user)->request_sent();
    return 0;
}

}  // namespace

std::optional<std::string> find_header(const Headers& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return value;
    }
    return std::nullopt;
}

HttpClient::HttpClient(std::uint16_t port, std::chrono::milliseconds timeout)
    : curl_(nullptr), port_(port), timeout_(timeout) {
    global_init();
    curl_ = curl_easy_init();
    if (curl_ == nullptr) throw std::runtime_error("curl_easy_init() failed");
}

HttpClient::~HttpClient() { curl_easy_cleanup(curl_); }

void HttpClient::request_sent() {
    if (sent_) return;
    sent_ = true;
    if (on_sent_) on_sent_();
}

HttpResponse HttpClient::get(const std::string& path, const Headers& headers) { return request("GET", path, "", headers); }

HttpResponse HttpClient::head(const std::string& path) { return request("HEAD", path, "", {}); }

HttpResponse HttpClient::post(const std::string& path, const std::string& body, const Headers& headers) {
    return request("POST", path, body, headers);
}

HttpResponse HttpClient::request(const std::string& method, const std::string& path, const std::string& body,
                                 const Headers& headers) {
    CURL* curl = curl_;
    HttpResponse response;
    current_ = &response;
    sent_ = false;
    const std::string url = "http://127.0.0.1:" + std::to_string(port_) + path;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, this);
    if (on_sent_) {
        curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, on_debug);
        curl_easy_setopt(curl, CURLOPT_DEBUGDATA, this);
        curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
    } else {
        curl_easy_setopt(curl, CURLOPT_VERBOSE, 0L);
    }

    // Reset the method of the previous request on this handle.
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, static_cast<const char*>(nullptr));
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    if (method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (method == "GET") {
        // HTTPGET above.
    } else {
        if (method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }

    curl_slist* list = nullptr;
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
    for (const auto& [name, value] : headers) list = curl_slist_append(list, (name + ": " + value).c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);

    const CURLcode rc = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
    curl_slist_free_all(list);
    current_ = nullptr;
    if (rc != CURLE_OK) {
        response.error = curl_easy_strerror(rc);
        response.status = 0;
        return response;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &response.new_connections);
    return response;
}

bool take_responses(std::string& buffer, std::vector<RawResponse>& out, const std::vector<bool>& head_only,
                    std::size_t index) {
    // Parse from an offset and erase once: a burst of thousands of responses
    // stays linear.
    std::size_t pos = 0;
    bool ok = true;
    for (;;) {
        const auto end = buffer.find("\r\n\r\n", pos);
        if (end == std::string::npos) break;
        RawResponse response;
        const std::string head = buffer.substr(pos, end - pos);
        std::size_t line_end = head.find("\r\n");
        const std::string status_line = head.substr(0, line_end);
        const auto first_space = status_line.find(' ');
        if (first_space == std::string::npos || status_line.compare(0, 5, "HTTP/") != 0) {
            ok = false;
            break;
        }
        response.version = status_line.substr(0, first_space);
        const auto second_space = status_line.find(' ', first_space + 1);
        try {
            response.status = std::stoi(status_line.substr(first_space + 1, second_space - first_space - 1));
        } catch (const std::exception&) {
            ok = false;
            break;
        }
        if (second_space != std::string::npos) response.reason = status_line.substr(second_space + 1);
        while (ok && line_end != std::string::npos && line_end < head.size()) {
            const std::size_t start = line_end + 2;
            line_end = head.find("\r\n", start);
            const std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
            const auto colon = line.find(':');
            if (colon == std::string::npos) {
                ok = false;
                break;
            }
            response.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
        }
        if (!ok) break;
        std::size_t length = 0;
        const bool head_response = index < head_only.size() && head_only[index];
        const bool no_body = head_response || (response.status >= 100 && response.status < 200) ||
                             response.status == 204 || response.status == 304;
        if (!no_body) {
            if (auto value = response.header("Content-Length")) {
                try {
                    length = std::stoul(*value);
                } catch (const std::exception&) {
                    ok = false;
                    break;
                }
            }
        }
        if (buffer.size() < end + 4 + length) break;  // body incomplete
        response.body = buffer.substr(end + 4, length);
        pos = end + 4 + length;
        out.push_back(std::move(response));
        ++index;
    }
    buffer.erase(0, pos);
    return ok;
}

RawConnection::RawConnection(std::uint16_t port, std::chrono::milliseconds timeout, int receive_buffer) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket(): ") + std::strerror(errno));
    if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    if (rc < 0 && errno == EINPROGRESS) {
        pollfd pfd{fd_, POLLOUT, 0};
        rc = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
        int error = 0;
        socklen_t length = sizeof error;
        if (rc == 1 && ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0) {
            rc = 0;
        } else {
            errno = rc == 0 ? ETIMEDOUT : error;
            rc = -1;
        }
    }
    if (rc < 0) {
        const std::string message = std::string("connect() to 127.0.0.1:") + std::to_string(port) + ": " +
                                    std::strerror(errno);
        ::close(fd_);
        throw std::runtime_error(message);
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawConnection::~RawConnection() { close(); }

void RawConnection::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool RawConnection::send(std::string_view bytes) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd pfd{fd_, POLLOUT, 0};
            ::poll(&pfd, 1, static_cast<int>(left.count()));
            continue;
        }
        return false;
    }
    return true;
}

std::uint16_t RawConnection::local_port() const {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
    return ntohs(address.sin_port);
}

void RawConnection::shutdown_write() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool RawConnection::read_some(std::chrono::steady_clock::time_point deadline) {
    if (closed_ || fd_ < 0) return false;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd pfd{fd_, POLLIN, 0};
        const int rc = ::poll(&pfd, 1, static_cast<int>(std::max<long long>(0, left.count())));
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) return false;
        char chunk[16384];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n > 0) {
            buffer_.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
        closed_ = true;  // EOF, or a reset
        return true;
    }
}

std::vector<RawResponse> RawConnection::read_responses(std::size_t n, std::chrono::milliseconds timeout,
                                                       const std::vector<bool>& head_only) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<RawResponse> responses;
    for (;;) {
        take_responses(buffer_, responses, head_only, responses_taken_ + responses.size());
        if (responses.size() >= n || closed_) break;
        if (!read_some(deadline)) break;
    }
    responses_taken_ += responses.size();
    return responses;
}

bool RawConnection::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!closed_) {
        if (!read_some(deadline)) break;
    }
    return closed_;
}

std::string http_request(const std::string& method, const std::string& path, const std::string& extra_headers,
                         const std::string& version) {
    return method + " " + path + " " + version + "\r\nHost: 127.0.0.1\r\n" + extra_headers + "\r\n";
}

}  // namespace clusterd::test
