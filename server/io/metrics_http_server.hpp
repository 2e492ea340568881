// The Prometheus endpoint: a tiny HTTP/1.1 server on worker 0's loop. GET /metrics gets
// what `render` returns, anything else an error status (http_request.hpp); every
// connection closes after one response. Bounded: at most kMaxConnections at once,
// kMaxRequestHead bytes per request, kIdleTimeout per connection. Idle connections cannot
// lock out a scrape: when every slot is taken, a new connection closes the oldest one that
// has not sent a complete request yet (a scraper sends its request at once, so only
// connections that hold a slot without asking lose it); only while every slot is writing
// a response does a new connection wait in the listen backlog.
//
// Lifetime: call close() and run the loop until it returns before destroying the server.
// The process must ignore SIGPIPE: a client that hangs up mid-response would kill it.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"

namespace turnscout::server {

class MetricsHttpServer {
 public:
  static constexpr size_t kMaxConnections = 16;
  static constexpr size_t kMaxRequestHead = 8192;
  static constexpr Duration kIdleTimeout = std::chrono::seconds{5};

  using Render = std::function<std::string()>;
  using Serving = std::function<bool()>;

  // `serving` answers /healthz: true (200) while the node serves, false (503) once it drains.
  MetricsHttpServer(uv_loop_t* loop, Render render, Serving serving);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Starts listening; returns the bound address (the real port when `at` said 0).
  Result<Endpoint, std::string> listen(const Endpoint& at);
  // Stops listening and closes every connection.
  void close();

  size_t open_connections() const { return connections_.size(); }
  uint64_t requests_served() const { return requests_served_; }
  // Connections closed to make room for a newer one.
  uint64_t evictions() const { return evictions_; }

 private:
  struct Connection;
  static void on_connection(uv_stream_t* listener, int status);
  static void on_timeout(uv_timer_t* timer);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_written(uv_write_t* write, int status);
  static void on_shutdown(uv_shutdown_t* shutdown, int status);
  static void on_closed(uv_handle_t* handle);
  void accept_one();
  void respond(Connection& c);
  void close_connection(Connection& c);
  void forget(Connection* c);

  uv_loop_t* loop_;
  Render render_;
  Serving serving_;
  uv_tcp_t listener_{};
  bool listening_ = false;
  bool accept_pending_ = false;  // A connection waits in the backlog for a free slot.
  std::vector<std::unique_ptr<Connection>> connections_;
  uint64_t requests_served_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace turnscout::server
