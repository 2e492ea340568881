#include "server/io/stream_listener.hpp"

#include <chrono>
#include <utility>

#include <unistd.h>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"
#include "common/uv_cast.hpp"
#include "proto/constants.hpp"
#include "proto/stream_framing.hpp"

namespace turnscout::server {

struct StreamListener::Listener {
  uv_tcp_t tcp{};
  StreamListener* owner = nullptr;
  std::shared_ptr<TlsContext> tls;
  std::shared_ptr<TlsContext> tls_if_asked;  // TCP: TLS too, for a client that starts it.
  Endpoint local;
};

struct StreamListener::Connection {
  uv_tcp_t tcp{};
  uv_shutdown_t shutdown{};
  StreamListener* owner = nullptr;
  StreamId id = 0;
  Endpoint remote;
  std::unique_ptr<TlsSession> tls;
  std::shared_ptr<TlsContext> tls_if_asked;  // Until its first byte says which it is.
  bool closing = false;
};

struct StreamListener::Write {
  uv_write_t req{};
  Connection* connection = nullptr;
  std::vector<uint8_t> bytes;
};

namespace {

uint64_t to_millis_ceil(Duration d) {
  if (d <= Duration::zero()) return 0;
  return static_cast<uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(d).count());
}

constexpr size_t kReadChunk = 65536;
// Connections the kernel completes before we accept them (it caps this at somaxconn): a
// burst of clients waits there instead of retrying its SYN a second later.
constexpr int kListenBacklog = 4096;

}  // namespace

// The close callback of a connection's handle: frees it, then counts it closed.
void StreamListener::release(uv_handle_t* handle) {
  auto* c = static_cast<Connection*>(handle->data);
  StreamListener* self = c->owner;
  delete c;
  self->finish_close();
}

StreamListener::StreamListener(uv_loop_t* loop, ProbeResponder& responder, StreamTable& table,
                               const Clock& clock, EventLog& events)
    : loop_(loop),
      responder_(responder),
      table_(table),
      clock_(clock),
      events_(events),
      read_buffer_(kReadChunk),
      reply_buffer_(proto::kMaxMessageSize) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  open_handles_ = 1;
}

StreamListener::~StreamListener() = default;

Result<void, std::string> StreamListener::listen(BoundSocket socket,
                                                 std::shared_ptr<TlsContext> tls,
                                                 std::shared_ptr<TlsContext> tls_if_asked) {
  const char* kind = tls ? "TLS" : "TCP";
  auto* l = new Listener;
  l->owner = this;
  l->tls = std::move(tls);
  if (!l->tls) l->tls_if_asked = std::move(tls_if_asked);
  l->local = socket.local;
  uv_tcp_init(loop_, &l->tcp);
  l->tcp.data = l;
  listeners_.push_back(l);
  ++open_handles_;
  int rc = uv_tcp_open(&l->tcp, socket.fd);
  if (rc != 0) {
    ::close(socket.fd);
  } else {
    rc = uv_listen(as_stream(&l->tcp), kListenBacklog, &StreamListener::on_connection);
  }
  if (rc != 0) {
    return unexpected(
        fmt::format("cannot listen on {} {}: {}", kind, socket.local, uv_strerror(rc)));
  }
  return {};
}

void StreamListener::close(std::function<void()> on_closed) {
  if (closing_) return;
  closing_ = true;
  on_closed_ = std::move(on_closed);
  for (Listener* l : std::exchange(listeners_, {})) {
    uv_close(as_handle(&l->tcp), [](uv_handle_t* h) {
      auto* listener = static_cast<Listener*>(h->data);
      StreamListener* self = listener->owner;
      delete listener;
      self->finish_close();
    });
  }
  std::vector<Connection*> open;
  for (auto& [id, c] : connections_)
    open.push_back(c);
  for (Connection* c : open)
    end(*c, StreamEnd::kShutdown);
  uv_close(as_handle(&timer_),
           [](uv_handle_t* h) { static_cast<StreamListener*>(h->data)->finish_close(); });
}

void StreamListener::finish_close() {
  if (--open_handles_ > 0 || !closing_) return;
  if (on_closed_) std::exchange(on_closed_, {})();
}

void StreamListener::on_connection(uv_stream_t* server, int status) {
  auto* l = static_cast<Listener*>(server->data);
  if (status < 0 || l->owner->closing_) return;
  l->owner->accept(*l);
}

void StreamListener::accept(Listener& l) {
  auto* c = new Connection;
  c->owner = this;
  uv_tcp_init(loop_, &c->tcp);
  c->tcp.data = c;
  c->shutdown.data = c;
  ++open_handles_;
  if (uv_accept(as_stream(&l.tcp), as_stream(&c->tcp)) != 0) {
    uv_close(as_handle(&c->tcp), &StreamListener::release);
    return;
  }
  sockaddr_storage peer{};
  int peer_len = sizeof(peer);
  Result<Endpoint, std::string> remote = unexpected(std::string("no peer"));
  if (uv_tcp_getpeername(&c->tcp, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) {
    remote =
        from_sockaddr(reinterpret_cast<const sockaddr*>(&peer), static_cast<socklen_t>(peer_len));
  }
  std::optional<StreamId> evicted;
  const auto id = remote ? table_.open(clock_.now(), *remote, l.tls != nullptr, &evicted)
                         : Result<StreamId, StreamRefusal>(unexpected(StreamRefusal::kTotal));
  if (evicted) drop_forgotten(*evicted);
  if (!id) {
    // Refused (counted by the table): closed at once, nothing read, nothing said.
    uv_close(as_handle(&c->tcp), &StreamListener::release);
    return;
  }
  c->id = *id;
  c->remote = *remote;
  if (l.tls) c->tls = std::make_unique<TlsSession>(l.tls);
  c->tls_if_asked = l.tls_if_asked;
  connections_.emplace(c->id, c);
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start(as_stream(&c->tcp), &StreamListener::on_alloc, &StreamListener::on_read);
  arm_timer();
}

void StreamListener::on_alloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(handle->data);
  std::vector<uint8_t>& b = c->owner->read_buffer_;
  *buf = uv_buf_init(reinterpret_cast<char*>(b.data()), static_cast<unsigned>(b.size()));
}

void StreamListener::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(stream->data);
  StreamListener& self = *c->owner;
  if (c->closing || nread == 0) return;
  if (nread < 0) {
    // The client finished sending (or the connection broke): what was queued for it is
    // still written, then the connection closes.
    uv_read_stop(stream);
    if (nread != UV_EOF || uv_shutdown(&c->shutdown, stream, &StreamListener::on_shutdown) != 0) {
      self.end(*c, StreamEnd::kPeerClosed);
    }
    return;
  }
  self.received(*c,
                std::span(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)));
  self.arm_timer();
}

void StreamListener::on_shutdown(uv_shutdown_t* req, int /*status*/) {
  auto* c = static_cast<Connection*>(req->data);
  if (!c->closing) c->owner->end(*c, StreamEnd::kPeerClosed);
}

void StreamListener::received(Connection& c, std::span<const uint8_t> bytes) {
  const TimePoint now = clock_.now();
  std::optional<std::string> tls_error;
  bool tls_closed = false;
  if (c.tls_if_asked && !bytes.empty()) {
    // The first byte says whether this TCP connection speaks STUN or starts TLS.
    if (proto::starts_tls(bytes[0]) && table_.start_tls(c.id)) {
      c.tls = std::make_unique<TlsSession>(c.tls_if_asked);
    }
    c.tls_if_asked.reset();
  }
  if (c.tls) {
    const bool was_done = c.tls->handshake_done();
    plain_.clear();
    auto fed = c.tls->feed(bytes, plain_);
    if (!flush_tls(c)) return;
    const bool done = c.tls->handshake_done();
    if (!fed && !done) {
      events_.debug("TLS connection from {} ended: {}", c.remote, fed.error());
      end(c, StreamEnd::kHandshakeFailed);
      return;
    }
    if (!was_done && done) table_.handshake_done(now, c.id);
    if (!fed) tls_error = fed.error();
    tls_closed = c.tls->peer_closed();
    bytes = plain_;
  }
  // What arrived before a bad record or the client's close_notify is answered first.
  if (!bytes.empty()) {
    const auto ended = table_.receive(
        now, c.id, bytes, [&](std::span<const uint8_t> request) { return answer(c, request); });
    if (ended && !c.closing) {
      events_.debug("{} connection from {} closed: {}", c.tls ? "TLS" : "TCP", c.remote,
                    stream_end_name(*ended));
      end(c, *ended);
    }
    if (c.closing) return;
  }
  if (tls_error) {
    events_.debug("TLS connection from {} ended: {}", c.remote, *tls_error);
    end(c, StreamEnd::kPeerClosed);
  } else if (tls_closed) {
    finish_sending(c);  // As at a TCP client's FIN: the replies go out, then it closes.
  }
}

// The client will send nothing more: stop reading, let the queued replies go, then close.
void StreamListener::finish_sending(Connection& c) {
  uv_read_stop(as_stream(&c.tcp));
  if (uv_shutdown(&c.shutdown, as_stream(&c.tcp), &StreamListener::on_shutdown) != 0) {
    end(c, StreamEnd::kPeerClosed);
  }
}

std::optional<StreamEnd> StreamListener::answer(Connection& c, std::span<const uint8_t> request) {
  if (c.closing) return StreamEnd::kShutdown;
  const TimePoint now = clock_.now();
  const auto wall_s = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(clock_.wall_now().time_since_epoch())
          .count());
  const Outcome o = responder_.handle(now, wall_s, c.remote, request, reply_buffer_, Via::kStream);
  if (o.what != Disposition::kReply) return std::nullopt;  // Counted by the responder.
  if (!send(c, std::span(reply_buffer_).first(o.size))) return StreamEnd::kWriteQueueFull;
  return std::nullopt;
}

bool StreamListener::send(Connection& c, std::span<const uint8_t> bytes) {
  if (c.tls) {
    if (!c.tls->write(bytes)) return false;
    return flush_tls(c);
  }
  return queue_write(c, std::vector<uint8_t>(bytes.begin(), bytes.end()), true);
}

// Sends what TLS produced (handshake records, encrypted replies); false if the write
// queue is full or the write failed, and the connection was ended.
bool StreamListener::flush_tls(Connection& c) {
  if (!c.tls->output_pending()) return true;
  // The handshake's own records (the certificate chain may be several kB) are not replies:
  // only what follows the handshake counts against max_write_queue.
  if (queue_write(c, c.tls->take_output(), c.tls->handshake_done())) return true;
  end(c, StreamEnd::kWriteQueueFull);
  return false;
}

// Queues `bytes` on the socket unless (`bounded`) the table says the client has too much
// unread; false if it was not queued.
bool StreamListener::queue_write(Connection& c, std::vector<uint8_t> bytes, bool bounded) {
  const size_t queued = uv_stream_get_write_queue_size(as_stream(&c.tcp));
  if (bounded && !table_.may_queue(queued, bytes.size())) return false;
  auto* w = new Write;
  w->bytes = std::move(bytes);
  w->req.data = w;
  w->connection = &c;
  uv_buf_t buf =
      uv_buf_init(reinterpret_cast<char*>(w->bytes.data()), static_cast<unsigned>(w->bytes.size()));
  if (uv_write(&w->req, as_stream(&c.tcp), &buf, 1, &StreamListener::on_written) != 0) {
    delete w;
    return false;
  }
  return true;
}

void StreamListener::on_written(uv_write_t* req, int status) {
  auto* w = static_cast<Write*>(req->data);
  Connection* c = w->connection;
  delete w;
  // Cancelled writes of a closing connection land here before its close callback.
  if (status < 0 && !c->closing) c->owner->end(*c, StreamEnd::kPeerClosed);
}

void StreamListener::end(Connection& c, StreamEnd why) {
  if (c.closing) return;
  c.closing = true;
  table_.close(c.id, why);
  connections_.erase(c.id);
  uv_close(as_handle(&c.tcp), &StreamListener::release);
}

void StreamListener::arm_timer() {
  if (closing_) return;
  const TimePoint next = table_.next_timeout();
  if (next == kNever) {
    uv_timer_stop(&timer_);
    return;
  }
  uv_update_time(loop_);
  uv_timer_start(&timer_, &StreamListener::on_timer, to_millis_ceil(next - clock_.now()), 0);
}

void StreamListener::on_timer(uv_timer_t* timer) {
  auto& self = *static_cast<StreamListener*>(timer->data);
  std::vector<std::pair<StreamId, StreamEnd>> expired;
  self.table_.expire(self.clock_.now(), expired);
  for (const auto& [id, why] : expired)
    self.drop_forgotten(id);
  self.arm_timer();
}

// Closes the socket of a connection the table has already forgotten (and counted).
void StreamListener::drop_forgotten(StreamId id) {
  const auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection* c = it->second;
  c->closing = true;
  connections_.erase(it);
  uv_close(as_handle(&c->tcp), &StreamListener::release);
}

}  // namespace turnscout::server
