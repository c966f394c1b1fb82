#include "supervisor/control_command.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/unique_fd.hpp"
#include "supervisor/control_socket.hpp"

namespace clusterd::supervisor {
namespace {

std::string command_line(const Config& config) {
    switch (config.role) {
        case Role::status: return config.status_json ? "status json" : "status";
        case Role::reload: return config.no_wait ? "reload no-wait" : "reload";
        case Role::upgrade: return config.no_wait ? "upgrade no-wait" : "upgrade";
        case Role::stop: return config.no_wait ? "stop no-wait" : "stop";
        case Role::scale: return "scale " + std::to_string(config.scale_to);
        case Role::supervisor:
        case Role::worker:
        case Role::compute:
        case Role::admin: break;
    }
    return "";
}

bool send_all(int fd, const std::string& text) {
    for (std::size_t sent = 0; sent < text.size();) {
        const ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

int run_control_command(const Config& config) {
    const std::string line = command_line(config);
    const std::string verb = line.substr(0, line.find(' '));
    const std::string path = control_socket_path(config);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) {
        std::fprintf(stderr, "clusterd %s: the control socket path %s is too long\n", verb.c_str(), path.c_str());
        return 1;
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        std::fprintf(stderr, "clusterd %s: no clusterd instance named '%s' answers on %s: %s\n", verb.c_str(),
                     config.name.c_str(), path.c_str(), std::strerror(errno));
        return 1;
    }
    if (!send_all(fd.get(), line + "\n")) {
        std::fprintf(stderr, "clusterd %s: send() to %s failed: %s\n", verb.c_str(), path.c_str(), std::strerror(errno));
        return 1;
    }
    // Everything up to the supervisor's close: text, then "ok: ..." or "error: ...".
    std::string answer;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        answer.append(buffer, static_cast<std::size_t>(n));
    }
    if (!answer.empty() && answer.back() == '\n') answer.pop_back();
    const auto last_start = answer.rfind('\n');
    const std::string last = last_start == std::string::npos ? answer : answer.substr(last_start + 1);
    const std::string body = last_start == std::string::npos ? "" : answer.substr(0, last_start + 1);
    std::fputs(body.c_str(), stdout);
    if (last.starts_with("ok:")) {
        const std::string sentence = last.size() > 4 ? last.substr(4) : "";
        if (!sentence.empty()) std::printf("%s: %s\n", verb.c_str(), sentence.c_str());
        return 0;
    }
    const std::string why = last.starts_with("error: ") ? last.substr(7)
                            : last.empty() ? "the instance closed the connection without an answer (it stopped?)"
                                           : last;
    std::fprintf(stderr, "clusterd %s: %s\n", verb.c_str(), why.c_str());
    return 1;
}

}  // namespace clusterd::supervisor
