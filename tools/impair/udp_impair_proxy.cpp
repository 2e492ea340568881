#include "tools/impair/udp_impair_proxy.hpp"

#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/logging.hpp"

namespace turnscout::impair {
namespace {

// timerfd takes CLOCK_MONOTONIC time, the clock of steady_now().
timespec to_timespec(TimePoint t) {
  const auto us = t.time_since_epoch().count();
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(us / 1'000'000);
  ts.tv_nsec = static_cast<long>(us % 1'000'000) * 1000;
  return ts;
}

}  // namespace

// What is still closing, and the callback stop() was given. Shared with the close
// callbacks, which may run after the proxy is gone (then `on_closed` is empty).
struct UdpImpairProxy::Closing {
  size_t pending = 0;
  std::function<void()> on_closed;

  void one_closed() {
    if (--pending == 0 && on_closed) std::exchange(on_closed, nullptr)();
  }
};

struct UdpImpairProxy::Front final : UdpPortHandler {
  explicit Front(UdpImpairProxy& p) : proxy(p) {}
  void on_datagram(UdpPort& /*port*/, const Endpoint& client,
                   std::span<const uint8_t> bytes) override {
    proxy.receive(Direction::kToServer, client, bytes);
  }
  UdpImpairProxy& proxy;
  std::unique_ptr<UdpPort> port;
};

// The socket that speaks to the server for one client, connected to the upstream so the
// kernel filters out everyone else.
struct UdpImpairProxy::Upstream final : UdpPortHandler {
  Upstream(UdpImpairProxy& p, const Endpoint& for_client) : proxy(p), client(for_client) {}
  void on_datagram(UdpPort& /*port*/, const Endpoint& /*server*/,
                   std::span<const uint8_t> bytes) override {
    proxy.receive(Direction::kToClient, client, bytes);
  }
  UdpImpairProxy& proxy;
  Endpoint client;
  std::unique_ptr<UdpPort> port;
};

// libuv timers count whole milliseconds of uv_now(), which would make each delay up to
// 2 ms late; a timerfd armed to the exact microsecond and watched by a uv_poll_t is not.
// Freed by its close callback; `owner` is cleared when the proxy closes it.
struct UdpImpairProxy::Timer {
  explicit Timer(int timer_fd) : fd(timer_fd) {}
  ~Timer() { ::close(fd); }
  uv_poll_t poll{};
  int fd;
  UdpImpairProxy* owner = nullptr;
  std::shared_ptr<Closing> closing;
};

UdpImpairProxy::UdpImpairProxy(uv_loop_s* loop, ProxyOptions options)
    : loop_(loop),
      options_(std::move(options)),
      random_(options_.seed),
      closing_(std::make_shared<Closing>()) {}

UdpImpairProxy::~UdpImpairProxy() {
  stop();
  closing_->on_closed = nullptr;
}

Result<void, std::string> UdpImpairProxy::start() {
  if (core_) return unexpected(std::string("the proxy was already started"));
  if (auto valid = validate(options_.impair); !valid) return valid;
  if (!options_.upstream.valid() || options_.upstream.port == 0) {
    return unexpected(fmt::format("invalid upstream address {}", options_.upstream));
  }
  core_.emplace(options_.impair, random_);
  auto opened = open_front();
  if (opened) opened = open_timer();
  if (!opened) {
    stop();
    return opened;
  }
  running_ = true;
  return {};
}

void UdpImpairProxy::stop(std::function<void()> on_closed) {
  running_ = false;
  if (front_) {
    close_port(std::move(front_->port));
    front_.reset();
  }
  for (auto& [client, upstream] : upstreams_)
    close_port(std::move(upstream->port));
  upstreams_.clear();
  if (Timer* timer = std::exchange(timer_, nullptr)) {
    timer->owner = nullptr;
    timer->closing = closing_;
    ++closing_->pending;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer->poll), [](uv_handle_t* handle) {
      auto* t = static_cast<Timer*>(handle->data);
      std::shared_ptr<Closing> closing = std::move(t->closing);
      delete t;
      closing->one_closed();
    });
  }
  if (!on_closed) return;
  if (closing_->pending == 0) {
    on_closed();
    return;
  }
  closing_->on_closed = std::move(on_closed);
}

void UdpImpairProxy::close_port(std::unique_ptr<UdpPort> port) {
  if (!port) return;
  UdpPort* closing = port.release();
  ++closing_->pending;
  closing->close([closing, tracker = closing_] {
    delete closing;
    tracker->one_closed();
  });
}

Result<void, std::string> UdpImpairProxy::open_front() {
  front_ = std::make_unique<Front>(*this);
  auto port = UdpPort::bind(loop_, options_.listen, *front_, udp_);
  if (!port) return unexpected(port.error());
  front_->port = std::move(*port);
  local_ = front_->port->local();
  return {};
}

Result<void, std::string> UdpImpairProxy::open_timer() {
  const int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return unexpected(fmt::format("cannot create a timerfd: {}", strerror(errno)));
  auto* timer = new Timer(fd);
  if (int rc = uv_poll_init(loop_, &timer->poll, fd); rc != 0) {
    delete timer;
    return unexpected(fmt::format("cannot watch a timerfd: {}", uv_strerror(rc)));
  }
  timer->poll.data = timer;
  timer->owner = this;
  timer_ = timer;
  const int rc = uv_poll_start(&timer->poll, UV_READABLE, [](uv_poll_t* handle, int, int) {
    auto* t = static_cast<Timer*>(handle->data);
    uint64_t expirations = 0;
    // Nothing to read (EAGAIN) when a re-arm raced the wake-up; either way the core decides.
    [[maybe_unused]] ssize_t n = ::read(t->fd, &expirations, sizeof(expirations));
    if (t->owner != nullptr) t->owner->timer_fired();
  });
  if (rc != 0) return unexpected(fmt::format("cannot watch a timerfd: {}", uv_strerror(rc)));
  return {};
}

bool UdpImpairProxy::open_upstream(const Endpoint& client) {
  Endpoint any;
  any.family = options_.upstream.family;
  auto upstream = std::make_unique<Upstream>(*this, client);
  auto port = UdpPort::bind(loop_, any, *upstream, udp_);
  std::string error = port ? std::string() : port.error();
  if (port) {
    upstream->port = std::move(*port);
    if (const int rc = upstream->port->connect(options_.upstream); rc != 0) {
      error = fmt::format("cannot connect to {}: {}", options_.upstream, uv_strerror(rc));
      close_port(std::move(upstream->port));
    }
  }
  if (!error.empty()) {
    ++upstream_errors_;
    logger().debug("impair proxy {}: no upstream socket for {}: {}", local_, client, error);
    return false;
  }
  upstreams_[client] = std::move(upstream);
  return true;
}

ProxyIoCounters UdpImpairProxy::io_counters() const {
  return {udp_.receive_errors.get(), udp_.send_dropped.get(), upstream_errors_};
}

void UdpImpairProxy::receive(Direction direction, const Endpoint& client,
                             std::span<const uint8_t> bytes) {
  if (!running_) return;
  const TimePoint now = steady_now();
  core_->on_datagram(now, direction, client, bytes);
  apply_events();
  // With no delay the datagram leaves now rather than one loop iteration later.
  if (core_->next_timeout() <= now) send_due();
  rearm();
}

void UdpImpairProxy::timer_fired() {
  if (!running_) return;
  armed_ = kNever;  // One-shot: it has expired.
  send_due();
  rearm();
}

void UdpImpairProxy::send_due() {
  core_->poll_due(steady_now(), due_);
  for (Departure& departure : due_) {
    if (departure.direction == Direction::kToServer) {
      auto it = upstreams_.find(departure.client);
      // The core forgets a client without an upstream socket, so this is a bug if it happens.
      if (it == upstreams_.end()) {
        udp_.send_dropped.add();
        continue;
      }
      it->second->port->send(options_.upstream, departure.bytes);
    } else {
      front_->port->send(departure.client, departure.bytes);
    }
  }
  due_.clear();
  apply_events();  // Sessions closed for idleness.
}

void UdpImpairProxy::apply_events() {
  core_->poll_client_events(events_);
  for (const ClientEvent& event : events_) {
    if (event.kind == ClientEvent::Kind::kOpened) {
      if (!open_upstream(event.client)) core_->forget_client(event.client);
      continue;
    }
    if (auto it = upstreams_.find(event.client); it != upstreams_.end()) {
      close_port(std::move(it->second->port));
      upstreams_.erase(it);
    }
  }
  events_.clear();
}

void UdpImpairProxy::rearm() {
  const TimePoint next = core_->next_timeout();
  if (next == armed_) return;
  itimerspec spec{};
  // An all-zero it_value would disarm instead of firing at once.
  if (next != kNever) spec.it_value = to_timespec(std::max(next, TimePoint{1us}));
  if (timerfd_settime(timer_->fd, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
    logger().error("impair proxy {}: cannot arm its timer: {}", local_, strerror(errno));
    return;
  }
  armed_ = next;
}

std::string UdpImpairProxy::describe_counters() const {
  if (!core_) return "not started";
  std::string out;
  for (Direction d : kDirections) {
    const DirectionCounters& c = core_->counters(d);
    out += fmt::format(
        "{}: received {}, forwarded {}, duplicated {}, dropped {} (loss {}, rule {}, overflow {}, "
        "stale {}), queued {}\n",
        to_string(d), c.received, c.forwarded, c.duplicated, c.dropped(), c.dropped_loss,
        c.dropped_rule, c.dropped_overflow, c.dropped_stale, core_->queued_packets(d));
  }
  const ClientCounters& clients = core_->client_counters();
  out +=
      fmt::format("clients: {} open, {} opened, {} closed idle, {} closed full\n",
                  core_->client_count(), clients.opened, clients.closed_idle, clients.closed_full);
  const ProxyIoCounters io = io_counters();
  out += fmt::format("io: {} receive errors, {} send errors, {} upstream errors", io.receive_errors,
                     io.send_errors, io.upstream_errors);
  return out;
}

}  // namespace turnscout::impair
