// A blocking HTTP/1.1 GET for `turnscout stats`, the cluster runner's metrics polls and the
// tests: one connection, everything (name lookup excepted) bounded by one timeout and the
// answer by a size limit. Content-Length or read-until-close bodies; no TLS, no redirects,
// no chunked encoding.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"

namespace turnscout::cli {

inline constexpr size_t kMaxHttpResponse = 4 * 1024 * 1024;

struct HttpReply {
  int status = 0;
  std::string headers;  // The header block as received, status line excluded.
  std::string body;

  // The value of the first header named `name` (ASCII case-insensitive), or "".
  std::string header(std::string_view name) const;
};

// `address` is "IP:PORT", "[IPv6]:PORT" or "HOST:PORT". Errors are one line.
Result<HttpReply, std::string> http_get(std::string_view address, std::string_view path,
                                        Duration timeout);
Result<HttpReply, std::string> http_get(const Endpoint& server, std::string_view path,
                                        Duration timeout);

// Sends `request` verbatim and returns whatever came back until the server closed the
// connection (for tests of malformed requests).
Result<std::string, std::string> http_raw(const Endpoint& server, std::string_view request,
                                          Duration timeout);

}  // namespace turnscout::cli
