#include "tools/impair/tcp_delay_proxy.hpp"

#include <uv.h>

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "common/format.hpp"
#include "common/sockaddr.hpp"
#include "common/uv_cast.hpp"
#include "tools/impair/stream_delay.hpp"

namespace turnscout::impair {

// What outlives the proxy while handles close: their count and the stop() callback.
struct TcpDelayProxy::Shared {
  uv_tcp_t listener{};
  TcpDelayProxy* owner = nullptr;  // Null once the proxy is gone.
  int open_handles = 0;
  std::function<void()> on_closed;
  void one_closed() {
    if (--open_handles == 0 && on_closed) std::exchange(on_closed, {})();
  }
};

struct TcpDelayProxy::Pipe {
  Pipe(Duration delay) : to_server(delay, true, kMaxQueued), to_client(delay, false, kMaxQueued) {}
  std::shared_ptr<Shared> shared;
  uv_tcp_t client{};
  uv_tcp_t server{};
  uv_connect_t connect{};
  uv_timer_t timer{};
  StreamDelay to_server;
  StreamDelay to_client;
  bool server_up = false;
  bool closing = false;
  int open_handles = 3;
  std::vector<uint8_t> chunk;
};

namespace {

struct Write {
  uv_write_t req{};
  std::vector<uint8_t> bytes;
};

uint64_t to_millis_ceil(Duration d) {
  if (d <= Duration::zero()) return 0;
  return static_cast<uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(d).count());
}

void write_to(uv_tcp_t& tcp, std::vector<uint8_t> bytes) {
  auto* w = new Write;
  w->bytes = std::move(bytes);
  w->req.data = w;
  uv_buf_t buf =
      uv_buf_init(reinterpret_cast<char*>(w->bytes.data()), static_cast<unsigned>(w->bytes.size()));
  if (uv_write(&w->req, as_stream(&tcp), &buf, 1,
               [](uv_write_t* req, int) { delete static_cast<Write*>(req->data); }) != 0) {
    delete w;
  }
}

}  // namespace

TcpDelayProxy::TcpDelayProxy(uv_loop_t* loop, Endpoint listen, Endpoint upstream, Duration delay)
    : loop_(loop), listen_(listen), upstream_(upstream), delay_(delay) {}

TcpDelayProxy::~TcpDelayProxy() {
  stop();
  if (shared_) shared_->owner = nullptr;
}

Result<void, std::string> TcpDelayProxy::start() {
  if (running_ || shared_) return unexpected(std::string("start() runs once"));
  shared_ = std::make_shared<Shared>();
  shared_->owner = this;
  sockaddr_storage addr{};
  if (to_sockaddr(listen_, addr) == 0) {
    return unexpected(fmt::format("invalid address {}", listen_));
  }
  uv_tcp_init(loop_, &shared_->listener);
  shared_->listener.data = shared_.get();
  shared_->open_handles = 1;
  running_ = true;
  int rc = uv_tcp_bind(&shared_->listener, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(as_stream(&shared_->listener), 128, [](uv_stream_t* server, int status) {
      auto* shared = static_cast<Shared*>(server->data);
      if (status == 0 && shared->owner != nullptr) shared->owner->accept();
    });
  }
  sockaddr_storage bound{};
  int len = sizeof(bound);
  if (rc == 0) {
    rc = uv_tcp_getsockname(&shared_->listener, reinterpret_cast<sockaddr*>(&bound), &len);
  }
  if (rc != 0) {
    stop();
    return unexpected(fmt::format("cannot listen on TCP {}: {}", listen_, uv_strerror(rc)));
  }
  auto local =
      from_sockaddr(reinterpret_cast<const sockaddr*>(&bound), static_cast<socklen_t>(len));
  if (!local) return unexpected(local.error());
  local_ = *local;
  return {};
}

void TcpDelayProxy::stop(std::function<void()> on_closed) {
  if (!running_) {
    if (on_closed) on_closed();
    return;
  }
  running_ = false;
  shared_->on_closed = std::move(on_closed);
  for (Pipe* p : std::vector<Pipe*>(pipes_))
    close_pipe(*p);
  // The Shared keeps itself alive through the listener's data until its close callback.
  auto* keep = new std::shared_ptr<Shared>(shared_);
  shared_->listener.data = keep;
  uv_close(as_handle(&shared_->listener), [](uv_handle_t* h) {
    auto* held = static_cast<std::shared_ptr<Shared>*>(h->data);
    std::shared_ptr<Shared> shared = *held;
    delete held;
    shared->one_closed();
  });
}

void TcpDelayProxy::accept() {
  auto* p = new Pipe(delay_);
  p->shared = shared_;
  shared_->open_handles += 3;
  for (uv_tcp_t* t : {&p->client, &p->server}) {
    uv_tcp_init(loop_, t);
    t->data = p;
  }
  uv_timer_init(loop_, &p->timer);
  p->timer.data = p;
  p->connect.data = p;
  pipes_.push_back(p);
  sockaddr_storage addr{};
  if (uv_accept(as_stream(&shared_->listener), as_stream(&p->client)) != 0 ||
      pipes_.size() > kMaxConnections || to_sockaddr(upstream_, addr) == 0 ||
      uv_tcp_connect(&p->connect, &p->server, reinterpret_cast<const sockaddr*>(&addr),
                     &TcpDelayProxy::on_connected) != 0) {
    close_pipe(*p);
    return;
  }
  ++accepted_;
  uv_read_start(as_stream(&p->client), &TcpDelayProxy::on_alloc, &TcpDelayProxy::on_read);
}

void TcpDelayProxy::on_connected(uv_connect_t* req, int status) {
  Pipe& pipe = *static_cast<Pipe*>(req->data);
  TcpDelayProxy* self = pipe.shared->owner;
  if (pipe.closing || self == nullptr) return;
  if (status < 0) {
    self->close_pipe(pipe);
    return;
  }
  pipe.server_up = true;
  uv_read_start(as_stream(&pipe.server), &TcpDelayProxy::on_alloc, &TcpDelayProxy::on_read);
  pump(pipe);
}

void TcpDelayProxy::on_alloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  Pipe& pipe = *static_cast<Pipe*>(handle->data);
  pipe.chunk.resize(65536);
  *buf = uv_buf_init(reinterpret_cast<char*>(pipe.chunk.data()),
                     static_cast<unsigned>(pipe.chunk.size()));
}

void TcpDelayProxy::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* /*buf*/) {
  Pipe& pipe = *static_cast<Pipe*>(stream->data);
  TcpDelayProxy* self = pipe.shared->owner;
  if (pipe.closing || nread == 0) return;
  if (nread < 0 || self == nullptr) {
    if (self != nullptr) self->close_pipe(pipe);
    return;
  }
  StreamDelay& line = stream == as_stream(&pipe.client) ? pipe.to_server : pipe.to_client;
  if (!line.push(steady_now(), std::span(pipe.chunk).first(static_cast<size_t>(nread)))) {
    self->close_pipe(pipe);  // Over kMaxQueued: a flood, not a request.
    return;
  }
  pump(pipe);
}

void TcpDelayProxy::on_timer(uv_timer_t* timer) {
  Pipe& pipe = *static_cast<Pipe*>(timer->data);
  if (!pipe.closing) pump(pipe);
}

// Writes whatever is due, then sleeps until the next chunk is.
void TcpDelayProxy::pump(Pipe& pipe) {
  const TimePoint now = steady_now();
  // A side that does not read gets no more than kMaxQueued unwritten bytes.
  for (uv_tcp_t* side : {&pipe.server, &pipe.client}) {
    if (uv_stream_get_write_queue_size(as_stream(side)) > kMaxQueued) {
      if (TcpDelayProxy* self = pipe.shared->owner) self->close_pipe(pipe);
      return;
    }
  }
  if (pipe.server_up) {
    while (auto bytes = pipe.to_server.pop_due(now))
      write_to(pipe.server, std::move(*bytes));
  }
  while (auto bytes = pipe.to_client.pop_due(now))
    write_to(pipe.client, std::move(*bytes));
  TimePoint next = pipe.to_client.next_due();
  if (pipe.server_up) next = std::min(next, pipe.to_server.next_due());
  if (next == kNever) {
    uv_timer_stop(&pipe.timer);
    return;
  }
  // libuv counts whole ms from its cached time: refresh it and round up (an early wake-up
  // finds nothing due and sleeps again).
  uv_update_time(pipe.timer.loop);
  uv_timer_start(&pipe.timer, &TcpDelayProxy::on_timer, to_millis_ceil(next - now), 0);
}

void TcpDelayProxy::close_pipe(Pipe& pipe) {
  if (pipe.closing) return;
  pipe.closing = true;
  std::erase(pipes_, &pipe);
  auto closed = [](uv_handle_t* h) {
    Pipe* p = static_cast<Pipe*>(h->data);
    std::shared_ptr<Shared> shared = p->shared;
    if (--p->open_handles == 0) delete p;
    shared->one_closed();
  };
  uv_close(as_handle(&pipe.client), closed);
  uv_close(as_handle(&pipe.server), closed);
  uv_close(as_handle(&pipe.timer), closed);
}

}  // namespace turnscout::impair
