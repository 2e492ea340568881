// The metrics endpoint's HTTP handling as pure functions.
#include <doctest/doctest.h>

#include <string>

#include "server/io/http_request.hpp"

namespace turnscout::server {

TEST_CASE("parse_request_head finds the request line once the head is complete") {
  const RequestHead head = parse_request_head("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 8192);
  CHECK(head.status == HeadStatus::kComplete);
  CHECK(head.method == "GET");
  CHECK(head.target == "/metrics");
  CHECK(parse_request_head("GET /metrics HTTP/1.0\n\n", 8192).status == HeadStatus::kComplete);
  CHECK(parse_request_head("GET /metrics HTTP/1.1\r\nHost:", 8192).status ==
        HeadStatus::kIncomplete);
  CHECK(parse_request_head("", 8192).status == HeadStatus::kIncomplete);
}

TEST_CASE("parse_request_head refuses junk and bounds the head") {
  for (const char* junk : {"NOT HTTP\r\n\r\n", "GET /metrics\r\n\r\n", "GET  HTTP/1.1\r\n\r\n",
                           "GET /m HTTP/2.0\r\n\r\n", "GET /m SPDY/1.1\r\n\r\n",
                           "G\x01T /m HTTP/1.1\r\n\r\n", "\r\n\r\n"}) {
    CAPTURE(junk);
    CHECK(parse_request_head(junk, 8192).status == HeadStatus::kMalformed);
  }
  const std::string endless = "GET /metrics HTTP/1.1\r\nX: " + std::string(100, 'a');
  CHECK(parse_request_head(endless, 64).status == HeadStatus::kTooLarge);
  CHECK(parse_request_head(endless, 1000).status == HeadStatus::kIncomplete);
  // The end of the head beyond the limit does not count.
  const std::string late = "GET /metrics HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n";
  CHECK(parse_request_head(late, 64).status == HeadStatus::kTooLarge);
}

TEST_CASE("route_metrics_request serves GET and HEAD of /metrics only") {
  auto route = [](const char* request) {
    return route_metrics_request(parse_request_head(request, 8192));
  };
  CHECK(route("GET /metrics HTTP/1.1\r\n\r\n") == MetricsRoute::kMetrics);
  CHECK(route("GET /metrics?x=1 HTTP/1.1\r\n\r\n") == MetricsRoute::kMetrics);
  CHECK(route("HEAD /metrics HTTP/1.1\r\n\r\n") == MetricsRoute::kMetrics);
  CHECK(route("POST /metrics HTTP/1.1\r\n\r\n") == MetricsRoute::kMethodNotAllowed);
  CHECK(route("GET /healthz HTTP/1.1\r\n\r\n") == MetricsRoute::kHealth);
  CHECK(route("HEAD /healthz?probe=lb HTTP/1.1\r\n\r\n") == MetricsRoute::kHealth);
  CHECK(route("POST /healthz HTTP/1.1\r\n\r\n") == MetricsRoute::kMethodNotAllowed);
  CHECK(route("GET / HTTP/1.1\r\n\r\n") == MetricsRoute::kNotFound);
  CHECK(route("GET /metrics/ HTTP/1.1\r\n\r\n") == MetricsRoute::kNotFound);
  CHECK(route("junk\r\n\r\n") == MetricsRoute::kBadRequest);
}

TEST_CASE("responses announce their length and close the connection") {
  const std::string ok = format_http_response(200, kMetricsContentType, "a 1\n");
  CHECK(ok ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
        "Content-Length: 4\r\nConnection: close\r\n\r\na 1\n");
  const std::string head = format_http_response(200, "text/plain", "abc", true);
  CHECK(head.find("Content-Length: 3\r\n") != std::string::npos);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");

  int renders = 0;
  auto render = [&] {
    ++renders;
    return std::string("m 1\n");
  };
  bool serving = true;
  auto health = [&] { return serving; };
  CHECK(respond_to(parse_request_head("GET /x HTTP/1.1\r\n\r\n", 100), render, health)
            .rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
  CHECK(respond_to(parse_request_head("GET /metrics HTTP/1.1\r\n\r\n", 100), render, health)
            .rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(respond_to(parse_request_head(std::string(200, 'x'), 100), render, health)
            .rfind("HTTP/1.1 431 ", 0) == 0);
  CHECK(renders == 1);
  const auto healthz = parse_request_head("GET /healthz HTTP/1.1\r\n\r\n", 100);
  CHECK(respond_to(healthz, render, health) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n"
        "Connection: close\r\n\r\nserving\n");
  serving = false;
  CHECK(respond_to(healthz, render, health).rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
  CHECK(renders == 1);
}

}  // namespace turnscout::server
