#include "server/io/http_request.hpp"

#include <fmt/format.h>

namespace turnscout::server {
namespace {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

bool is_token_char(char c) {
  return c > ' ' && c < 0x7f;
}

}  // namespace

RequestHead parse_request_head(std::string_view received, size_t max_size) {
  RequestHead head;
  const std::string_view window = received.substr(0, max_size);
  size_t end = window.find("\r\n\r\n");
  if (end == std::string_view::npos) end = window.find("\n\n");
  if (end == std::string_view::npos) {
    head.status = received.size() >= max_size ? HeadStatus::kTooLarge : HeadStatus::kIncomplete;
    return head;
  }
  std::string_view line = window.substr(0, window.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t first_space = line.find(' ');
  const size_t second_space = line.find(' ', first_space == line.npos ? 0 : first_space + 1);
  head.status = HeadStatus::kMalformed;
  if (first_space == line.npos || second_space == line.npos) return head;
  const std::string_view method = line.substr(0, first_space);
  const std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  const std::string_view version = line.substr(second_space + 1);
  if (method.empty() || target.empty() || version.substr(0, 7) != "HTTP/1." ||
      version.size() != 8) {
    return head;
  }
  for (char c : method) {
    if (!is_token_char(c)) return head;
  }
  for (char c : target) {
    if (!is_token_char(c)) return head;
  }
  head.status = HeadStatus::kComplete;
  head.method = method;
  head.target = target;
  return head;
}

MetricsRoute route_metrics_request(const RequestHead& head) {
  switch (head.status) {
    case HeadStatus::kMalformed:
    case HeadStatus::kIncomplete:
      return MetricsRoute::kBadRequest;
    case HeadStatus::kTooLarge:
      return MetricsRoute::kTooLarge;
    case HeadStatus::kComplete:
      break;
  }
  const std::string_view path = head.target.substr(0, head.target.find('?'));
  if (path != kMetricsPath && path != kHealthPath) return MetricsRoute::kNotFound;
  if (head.method != "GET" && head.method != "HEAD") return MetricsRoute::kMethodNotAllowed;
  return path == kMetricsPath ? MetricsRoute::kMetrics : MetricsRoute::kHealth;
}

std::string format_http_response(int status, std::string_view content_type, std::string_view body,
                                 bool head_only) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
      status, reason_phrase(status), content_type, body.size());
  if (!head_only) out.append(body);
  return out;
}

}  // namespace turnscout::server
