// The little HTTP/1.1 the metrics endpoint speaks, as pure functions: find the request
// head in what a connection has received, decide the answer, format it. Every response
// closes the connection, so there is no keep-alive or pipelining to get wrong.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "server/core/metrics.hpp"

namespace turnscout::server {

inline constexpr std::string_view kMetricsPath = "/metrics";
inline constexpr std::string_view kHealthPath = "/healthz";

enum class HeadStatus {
  kIncomplete,  // No blank line yet: read more.
  kComplete,
  kMalformed,  // Not "METHOD TARGET HTTP/1.x".
  kTooLarge,   // No end of the head within the size limit.
};

struct RequestHead {
  HeadStatus status = HeadStatus::kIncomplete;
  std::string_view method;  // Views into the received bytes.
  std::string_view target;
};

// Looks for a complete request head ("...\r\n\r\n"; a bare "\n\n" is accepted) in the
// first `max_size` bytes of `received`. A body, if any, is ignored.
RequestHead parse_request_head(std::string_view received, size_t max_size);

enum class MetricsRoute {
  kMetrics,           // 200 with the rendered metrics.
  kHealth,            // 200 while serving, 503 while draining (load balancers, probes).
  kNotFound,          // 404.
  kMethodNotAllowed,  // 405.
  kBadRequest,        // 400: malformed.
  kTooLarge,          // 431: head too large.
};

// GET or HEAD of /metrics or /healthz (a query string is ignored) is all that is served.
MetricsRoute route_metrics_request(const RequestHead& head);

// A complete response with Content-Length and "Connection: close". With `head_only`
// (a HEAD request) the body is left out but its length still announced.
std::string format_http_response(int status, std::string_view content_type, std::string_view body,
                                 bool head_only = false);

// The whole response for `route` (calls `render` only for kMetrics, `serving` only for
// kHealth: true while the node serves, false once it drains).
template <typename Render, typename Serving>
std::string respond_to(const RequestHead& head, Render&& render, Serving&& serving) {
  const bool head_only = head.method == "HEAD";
  switch (route_metrics_request(head)) {
    case MetricsRoute::kMetrics:
      return format_http_response(200, kMetricsContentType, render(), head_only);
    case MetricsRoute::kHealth:
      return serving() ? format_http_response(200, "text/plain", "serving\n", head_only)
                       : format_http_response(503, "text/plain", "draining\n", head_only);
    case MetricsRoute::kNotFound:
      return format_http_response(404, "text/plain", "not found; try /metrics or /healthz\n");
    case MetricsRoute::kMethodNotAllowed:
      return format_http_response(405, "text/plain", "only GET\n");
    case MetricsRoute::kTooLarge:
      return format_http_response(431, "text/plain", "request head too large\n");
    case MetricsRoute::kBadRequest:
      break;
  }
  return format_http_response(400, "text/plain", "bad request\n");
}

}  // namespace turnscout::server
