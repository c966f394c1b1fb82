// An application's Response as the connection writes it. A handler's
// response is untrusted text on its way into our framing: a status outside
// 100..599 becomes 500, a header clusterd writes itself (Content-Length,
// Content-Type, Date, Connection, Transfer-Encoding) is dropped, and so is
// any header whose name or value holds CR, LF or NUL (response splitting).
#pragma once

#include "clusterd/http.hpp"
#include "worker/http_response.hpp"

namespace clusterd::worker {

[[nodiscard]] Response wire_response(const clusterd::Response& response);

}  // namespace clusterd::worker
