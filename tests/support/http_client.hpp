// A minimal blocking HTTP/1.1 GET for tests (the metrics endpoint): one connection per
// request, the server closes it, everything bounded by one deadline.
#pragma once

#include <string>
#include <string_view>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"

namespace turnscout::test {

struct HttpResponse {
  int status = 0;
  std::string headers;  // The header block as received, status line excluded.
  std::string body;

  // The value of the first header named `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

Result<HttpResponse, std::string> http_get(const Endpoint& server, std::string_view path,
                                           Duration timeout);

// Sends `request` verbatim and returns whatever the server sent until it closed the
// connection (for malformed-request tests).
Result<std::string, std::string> http_raw(const Endpoint& server, std::string_view request,
                                          Duration timeout);

}  // namespace turnscout::test
