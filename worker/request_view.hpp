// The request as a clusterd::Request shows it to a handler: the parsed
// request, its split target and the route's parameters. Lives on the
// connection's stack for the duration of one handler call.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "clusterd/http.hpp"
#include "worker/http_request_reader.hpp"
#include "worker/query.hpp"

namespace clusterd::detail {

struct RequestView {
    const worker::Request& raw;
    Method method;
    const worker::Target& target;
    const std::string& route;  // the pattern
    const std::vector<std::pair<std::string, std::string>>& params;
};

}  // namespace clusterd::detail
