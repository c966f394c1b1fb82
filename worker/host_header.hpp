// RFC 9112 §3.2 and RFC 9110 §7.2: what a Host field value may be.
//
// A server MUST answer 400 to a request with more than one Host line or with
// an invalid Host value: a proxy in front of clusterd and clusterd itself
// could otherwise disagree about which host a request is for (cache
// poisoning, routing around an access rule). The value is
//   uri-host [ ":" port ]     uri-host = IP-literal / IPv4address / reg-name
// and may be empty (a target without an authority).
#pragma once

#include <string_view>

namespace clusterd::worker {

[[nodiscard]] bool is_valid_host(std::string_view value);

}  // namespace clusterd::worker
