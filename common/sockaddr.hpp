// Conversion between Endpoint and the socket API's sockaddr, for the I/O adapters.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "base/address.hpp"
#include "base/result.hpp"

namespace turnscout {

// Fills `out` and returns the length to pass to bind/sendto; 0 for an invalid endpoint.
socklen_t to_sockaddr(const Endpoint& ep, sockaddr_storage& out);
// `len` is the number of readable bytes at `sa`; callers that get no length (libuv's
// recv callback) may pass sizeof(sockaddr_storage) when `sa` points to one. The IPv6
// scope id is dropped.
Result<Endpoint, std::string> from_sockaddr(const sockaddr* sa, socklen_t len);

}  // namespace turnscout
