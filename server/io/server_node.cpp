#include "server/io/server_node.hpp"

#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "common/format.hpp"
#include "server/io/bound_config.hpp"

namespace turnscout::server {
namespace {

uint64_t to_millis_ceil(Duration d) {
  if (d <= Duration::zero()) return 0;
  return static_cast<uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(d).count());
}

}  // namespace

// What libuv may still touch after close(): the timer and the data plane's ports. It lives
// apart from the node and deletes itself when the last close callback has run; `owner` is
// cleared on close so nothing reaches a node that is gone.
struct ServerNode::Handles {
  uv_timer_t timer{};
  std::unique_ptr<DataPlane> data;
  std::unique_ptr<StreamTable> streams;  // Before `listener`, which uses it.
  std::unique_ptr<StreamListener> listener;
  ServerNode* owner = nullptr;
  int closing = 0;
  std::function<void()> on_closed;

  void one_closed() {
    if (--closing > 0) return;
    std::function<void()> done = std::move(on_closed);
    delete this;
    if (done) done();
  }
};

ServerNode::ServerNode(uv_loop_t* loop, const Clock& clock, EventLog& events)
    : loop_(loop), clock_(clock), events_(events) {}

ServerNode::~ServerNode() {
  close();
}

namespace {

// A UDP socket on `at` and, with `tcp`, a TCP one on the same address and port. When `at`
// says port 0, a port free for both is searched: the kernel picks one for UDP that a TCP
// connection may be using.
Result<std::pair<BoundSocket, std::optional<BoundSocket>>, std::string> bind_pair(
    const Endpoint& at, UdpSocketOptions options, bool tcp) {
  constexpr int kAttempts = 32;
  for (int attempt = 1;; ++attempt) {
    auto udp = open_udp_socket(at, options);
    if (!udp) return unexpected(udp.error());
    if (!tcp) return std::pair{*udp, std::optional<BoundSocket>{}};
    auto stream = open_tcp_socket(udp->local);
    if (stream) return std::pair{*udp, std::optional<BoundSocket>{*stream}};
    close_sockets({&*udp, 1});
    if (at.port != 0 || attempt == kAttempts) return unexpected(stream.error());
  }
}

}  // namespace

Result<std::vector<Endpoint>, std::string> ServerNode::bind(std::span<const Endpoint> listen,
                                                            UdpSocketOptions options, bool tcp) {
  if (!sockets_.empty() || core_) return unexpected(std::string("already bound"));
  std::vector<BoundSocket> udp;
  std::vector<BoundSocket> streams;
  for (const Endpoint& at : listen) {
    auto pair = bind_pair(at, options, tcp);
    if (!pair) {
      close_sockets(udp);
      close_sockets(streams);
      return unexpected(pair.error());
    }
    udp.push_back(pair->first);
    if (pair->second) streams.push_back(*pair->second);
  }
  sockets_ = std::move(udp);
  tcp_sockets_ = std::move(streams);
  bound_.clear();
  for (const BoundSocket& s : sockets_)
    bound_.push_back(s.local);
  return bound_;
}

Result<void, std::string> ServerNode::start(const ServerConfig& config, uint64_t seed) {
  if (core_ || sockets_.empty()) return unexpected(std::string("start() needs a bound node, once"));
  core_ = std::make_unique<ServerCore>(with_bound_ports(config, bound_), clock_.now(),
                                       clock_.wall_now(), seed, events_);
  published_version_ = core_->snapshot() ? core_->snapshot()->version : 0;
  handles_ = new Handles;
  handles_->owner = this;
  handles_->timer.data = handles_;
  uv_timer_init(loop_, &handles_->timer);
  handles_->data = std::make_unique<DataPlane>(loop_, core_->responder(), *this, counters_, clock_);
  const std::vector<BoundSocket> sockets = std::exchange(sockets_, {});
  if (auto added = handles_->data->add_ports(sockets, bound_); !added) return added;
  if (auto listening = listen_streams(config); !listening) return listening;
  after_core();
  return {};
}

Result<void, std::string> ServerNode::listen_streams(const ServerConfig& config) {
  const StreamConfig& streams = config.streams;
  handles_->streams = std::make_unique<StreamTable>(streams, config.admission.ipv6_prefix);
  handles_->listener = std::make_unique<StreamListener>(loop_, core_->responder(),
                                                        *handles_->streams, clock_, events_);
  std::shared_ptr<TlsContext> tls;
  if (!streams.tls_cert_file.empty()) {
    auto context = TlsContext::server(streams.tls_cert_file, streams.tls_key_file);
    if (!context) {
      close_sockets(tcp_sockets_);
      tcp_sockets_.clear();
      return unexpected(context.error());
    }
    tls = *context;
  }
  // TCP on the same addresses and ports as UDP, bound with them; with a certificate, TLS
  // there too for a client that starts it, so a walk over TLS can follow the addresses
  // parents list.
  std::vector<BoundSocket> tcp = std::exchange(tcp_sockets_, {});
  if (!streams.tcp) close_sockets(tcp);
  for (size_t i = 0; streams.tcp && i < tcp.size(); ++i) {
    if (auto listening = handles_->listener->listen(tcp[i], nullptr, tls); !listening) {
      close_sockets(std::span(tcp).subspan(i + 1));
      return listening;
    }
    tcp_bound_.push_back(tcp[i].local);
  }
  for (const Endpoint& at : streams.tls_listen) {
    auto socket = open_tcp_socket(at);
    if (!socket) return unexpected(socket.error());
    const Endpoint local = socket->local;
    if (auto listening = handles_->listener->listen(*socket, tls); !listening) return listening;
    tls_bound_.push_back(local);
  }
  return {};
}

void ServerNode::reconfigure_streams(const StreamConfig& streams, uint8_t ipv6_prefix) {
  if (handles_ != nullptr && handles_->streams) {
    handles_->streams->reconfigure(streams, ipv6_prefix);
  }
}

const StreamTable* ServerNode::streams() const {
  return handles_ != nullptr ? handles_->streams.get() : nullptr;
}

void ServerNode::close(std::function<void()> on_closed) {
  Handles* h = std::exchange(handles_, nullptr);
  if (h == nullptr) {
    close_sockets(std::exchange(sockets_, {}));  // Bound, never started.
    close_sockets(std::exchange(tcp_sockets_, {}));
    if (on_closed) on_closed();
    return;
  }
  h->owner = nullptr;
  h->on_closed = std::move(on_closed);
  h->closing = h->listener ? 3 : 2;
  uv_close(reinterpret_cast<uv_handle_t*>(&h->timer),
           [](uv_handle_t* timer) { static_cast<Handles*>(timer->data)->one_closed(); });
  h->data->close([h] { h->one_closed(); });
  if (h->listener) h->listener->close([h] { h->one_closed(); });
}

bool ServerNode::forward(const Endpoint& local, const Endpoint& remote,
                         std::span<const uint8_t> bytes, bool /*known*/) {
  if (handles_ == nullptr) return false;
  core_->on_control_datagram(clock_.now(), local, remote, bytes);
  after_core();
  return true;
}

void ServerNode::after_core() {
  if (handles_ == nullptr || !core_) return;
  transmit();
  publish_snapshot();
  arm_timer();
  if (after_core_hook_) after_core_hook_();
}

void ServerNode::transmit() {
  transmit_.clear();
  core_->poll_transmit(transmit_);
  for (const Datagram& d : transmit_) {
    UdpPort* port = handles_->data->port_for(d.local, d.remote);
    if (port == nullptr) {
      counters_.udp.send_dropped.add();
      events_.debug("no socket to send from {} to {}", d.local, d.remote);
      continue;
    }
    if (port->send(d.remote, d.bytes) != 0) {
      events_.debug("send from {} to {} refused", port->local(), d.remote);
    }
  }
}

void ServerNode::publish_snapshot() {
  const SnapshotPtr& snapshot = core_->snapshot();
  if (!snapshot || snapshot->version == published_version_) return;
  published_version_ = snapshot->version;
  if (core_->responder().snapshot() != snapshot) core_->responder().set_snapshot(snapshot);
  if (on_publish_) on_publish_(snapshot);
}

void ServerNode::arm_timer() {
  const TimePoint next = core_->next_timeout();
  if (next == kNever) {
    uv_timer_stop(&handles_->timer);
    return;
  }
  // uv timers count whole ms from the loop's cached time: refresh it and round up, so the
  // timer never fires before the core is due (an early one is simply re-armed).
  uv_update_time(loop_);
  uv_timer_start(
      &handles_->timer,
      [](uv_timer_t* timer) {
        auto* h = static_cast<Handles*>(timer->data);
        if (h->owner != nullptr) h->owner->timer_fired();
      },
      to_millis_ceil(next - clock_.now()), 0);
}

void ServerNode::timer_fired() {
  const TimePoint now = clock_.now();
  if (core_->next_timeout() <= now) core_->on_timeout(now);
  after_core();
}

}  // namespace turnscout::server
