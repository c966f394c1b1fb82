#include "worker/ready_report.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace clusterd::worker {

bool report_ready_to_supervisor() {
    const char ready = child::ready_byte;
    ssize_t written;
    do {
        written = ::write(ready_report_fd, &ready, 1);
    } while (written < 0 && errno == EINTR);
    if (written != 1) {
        spdlog::critical("write() failed while reporting ready to the supervisor: {}", std::strerror(errno));
        return false;
    }
    ::close(ready_report_fd);
    return true;
}

}  // namespace clusterd::worker
