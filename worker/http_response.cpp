#include "worker/http_response.hpp"

namespace clusterd::worker {

Response text_response(unsigned status, std::string body) {
    Response response;
    response.status = status;
    response.body = std::move(body);
    if (!response.body.empty() && response.body.back() != '\n') response.body += '\n';
    return response;
}

const char* reason_phrase(unsigned status) {
    switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Content Too Large";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

const std::string& HttpDate::now() {
    const std::time_t second = std::time(nullptr);
    if (second != second_ || text_.empty()) {
        second_ = second;
        std::tm utc{};
        gmtime_r(&second, &utc);
        char buffer[64];
        const std::size_t size = std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &utc);
        text_.assign(buffer, size);
    }
    return text_;
}

void serialize(const Response& response, const WireOptions& options, const std::string& date, std::string& out) {
    out += "HTTP/1.1 ";
    out += std::to_string(response.status);
    out += ' ';
    out += reason_phrase(response.status);
    out += "\r\nServer: clusterd\r\nDate: ";
    out += date;
    out += "\r\nContent-Type: ";
    out += response.content_type;
    out += "\r\nContent-Length: ";
    out += std::to_string(response.body.size());
    out += "\r\n";
    for (const auto& [name, value] : response.headers) {
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    }
    if (options.worker_id != nullptr && !options.worker_id->empty()) {
        out += worker_id_header_name;
        out += ": ";
        out += *options.worker_id;
        out += "\r\n";
    }
    if (!options.keep_alive) {
        out += "Connection: close\r\n";
    } else if (options.http10) {
        out += "Connection: keep-alive\r\n";
    }
    out += "\r\n";
    if (!options.head) out += response.body;
}

}  // namespace clusterd::worker
