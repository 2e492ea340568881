#include "server/io/metrics_http_server.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"
#include "common/uv_cast.hpp"
#include "server/io/http_request.hpp"

namespace turnscout::server {

struct MetricsHttpServer::Connection {
  MetricsHttpServer* server = nullptr;
  uv_tcp_t tcp{};
  uv_timer_t timer{};
  uv_write_t write{};
  uv_shutdown_t shutdown{};
  std::array<char, kMaxRequestHead> buffer{};
  size_t received = 0;
  std::string response;
  int open_handles = 0;
  bool closing = false;
  bool answered = false;
};

namespace {

template <typename T, typename Handle>
T& owner(Handle* handle) {
  return *static_cast<T*>(handle->data);
}

}  // namespace

MetricsHttpServer::MetricsHttpServer(uv_loop_t* loop, Render render, Serving serving)
    : loop_(loop), render_(std::move(render)), serving_(std::move(serving)) {}

MetricsHttpServer::~MetricsHttpServer() = default;

Result<Endpoint, std::string> MetricsHttpServer::listen(const Endpoint& at) {
  sockaddr_storage addr{};
  if (to_sockaddr(at, addr) == 0) return unexpected(fmt::format("invalid address {}", at));
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  listening_ = true;
  const unsigned flags = at.family == Family::kV6 ? UV_TCP_IPV6ONLY : 0;
  int rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), flags);
  if (rc == 0) rc = uv_listen(as_stream(&listener_), 64, &MetricsHttpServer::on_connection);
  sockaddr_storage bound{};
  int bound_len = sizeof(bound);
  if (rc == 0) rc = uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  if (rc != 0) {
    close();
    return unexpected(fmt::format("cannot serve metrics on {}: {}", at, uv_strerror(rc)));
  }
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&bound), sizeof(bound));
}

void MetricsHttpServer::close() {
  if (listening_) {
    listening_ = false;
    uv_close(as_handle(&listener_), nullptr);
  }
  for (auto& c : connections_)
    close_connection(*c);
}

void MetricsHttpServer::on_connection(uv_stream_t* listener, int status) {
  auto& self = owner<MetricsHttpServer>(listener);
  if (status < 0 || !self.listening_) return;
  if (self.connections_.size() < kMaxConnections) {
    self.accept_one();
    return;
  }
  // Not accepting makes libuv stop polling the listener until the next uv_accept, which
  // forget() makes once a slot is free. Connections are kept oldest first.
  self.accept_pending_ = true;
  auto waiting = std::find_if(self.connections_.begin(), self.connections_.end(),
                              [](const auto& c) { return !c->answered && !c->closing; });
  if (waiting != self.connections_.end()) {
    ++self.evictions_;
    self.close_connection(**waiting);
  }
}

void MetricsHttpServer::accept_one() {
  connections_.push_back(std::make_unique<Connection>());
  Connection& c = *connections_.back();
  c.server = this;
  uv_tcp_init(loop_, &c.tcp);
  uv_timer_init(loop_, &c.timer);
  c.tcp.data = &c;
  c.timer.data = &c;
  c.write.data = &c;
  c.shutdown.data = &c;
  c.open_handles = 2;
  if (uv_accept(as_stream(&listener_), as_stream(&c.tcp)) != 0) {
    close_connection(c);
    return;
  }
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kIdleTimeout);
  uv_timer_start(&c.timer, &MetricsHttpServer::on_timeout, static_cast<uint64_t>(timeout.count()),
                 0);
  uv_read_start(as_stream(&c.tcp), &MetricsHttpServer::on_alloc, &MetricsHttpServer::on_read);
}

void MetricsHttpServer::on_timeout(uv_timer_t* timer) {
  Connection& c = owner<Connection>(timer);
  c.server->close_connection(c);
}

// The request head is read into the connection's fixed buffer; a full buffer makes libuv
// report UV_ENOBUFS, which respond() answers with 431.
void MetricsHttpServer::on_alloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  Connection& c = owner<Connection>(handle);
  *buf = uv_buf_init(c.buffer.data() + c.received,
                     static_cast<unsigned>(c.buffer.size() - c.received));
}

void MetricsHttpServer::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* /*buf*/) {
  Connection& c = owner<Connection>(stream);
  if (nread < 0 && nread != UV_ENOBUFS) {
    c.server->close_connection(c);
    return;
  }
  if (nread > 0) c.received += static_cast<size_t>(nread);
  c.server->respond(c);
}

void MetricsHttpServer::respond(Connection& c) {
  if (c.answered || c.closing) return;
  const RequestHead head =
      parse_request_head(std::string_view(c.buffer.data(), c.received), kMaxRequestHead);
  if (head.status == HeadStatus::kIncomplete) return;
  c.answered = true;
  uv_read_stop(as_stream(&c.tcp));
  c.response = respond_to(head, render_, serving_);
  ++requests_served_;
  uv_buf_t buf = uv_buf_init(c.response.data(), static_cast<unsigned>(c.response.size()));
  if (uv_write(&c.write, as_stream(&c.tcp), &buf, 1, &MetricsHttpServer::on_written) != 0) {
    close_connection(c);
  }
}

void MetricsHttpServer::on_written(uv_write_t* write, int status) {
  Connection& c = owner<Connection>(write);
  if (status < 0 || c.closing ||
      uv_shutdown(&c.shutdown, as_stream(&c.tcp), &MetricsHttpServer::on_shutdown) != 0) {
    c.server->close_connection(c);
  }
}

void MetricsHttpServer::on_shutdown(uv_shutdown_t* shutdown, int /*status*/) {
  Connection& c = owner<Connection>(shutdown);
  c.server->close_connection(c);
}

void MetricsHttpServer::close_connection(Connection& c) {
  if (c.closing) return;
  c.closing = true;
  uv_close(as_handle(&c.tcp), &MetricsHttpServer::on_closed);
  uv_close(as_handle(&c.timer), &MetricsHttpServer::on_closed);
}

void MetricsHttpServer::on_closed(uv_handle_t* handle) {
  Connection& c = owner<Connection>(handle);
  if (--c.open_handles == 0) c.server->forget(&c);
}

void MetricsHttpServer::forget(Connection* c) {
  std::erase_if(connections_, [c](const auto& p) { return p.get() == c; });
  if (accept_pending_ && listening_ && connections_.size() < kMaxConnections) {
    accept_pending_ = false;
    accept_one();
  }
}

}  // namespace turnscout::server
