// A blocking HTTP/1.1 GET for `turnscout stats`: one connection, everything (name lookup
// excepted) bounded by one timeout and the body by a size limit. Content-Length or
// read-until-close bodies; no TLS, no redirects, no chunked encoding.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace turnscout::cli {

inline constexpr size_t kMaxHttpResponse = 4 * 1024 * 1024;

struct HttpReply {
  int status = 0;
  std::string body;
};

// `address` is "IP:PORT", "[IPv6]:PORT" or "HOST:PORT". Errors are one line.
Result<HttpReply, std::string> http_get(std::string_view address, std::string_view path,
                                        Duration timeout);

}  // namespace turnscout::cli
