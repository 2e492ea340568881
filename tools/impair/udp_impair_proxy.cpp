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
#include "common/sockaddr.hpp"

namespace turnscout::impair {
namespace {

// Any UDP payload fits (at most 65,507 bytes over IPv4, 65,527 over IPv6).
constexpr size_t kReceiveBufferSize = 65536;

// One receive buffer for every proxy of the thread: libuv hands each datagram to its
// receive callback, which the core copies from, before it allocates for the next one.
char* receive_buffer() {
  thread_local std::vector<char> buffer(kReceiveBufferSize);
  return buffer.data();
}

std::string uv_failure(std::string_view what, const Endpoint& at, int code) {
  return fmt::format("cannot {} {}: {}", what, at, uv_strerror(code));
}

const sockaddr* as_sockaddr(const sockaddr_storage& storage) {
  return reinterpret_cast<const sockaddr*>(&storage);
}

// timerfd takes CLOCK_MONOTONIC time, the clock of steady_now().
timespec to_timespec(TimePoint t) {
  const auto us = t.time_since_epoch().count();
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(us / 1'000'000);
  ts.tv_nsec = static_cast<long>(us % 1'000'000) * 1000;
  return ts;
}

std::span<const uint8_t> bytes_of(const uv_buf_t* buf, ssize_t nread) {
  return {reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)};
}

}  // namespace

// Every handle lives in a box allocated here and freed in its close callback, the only
// point where libuv is done with the memory. `owner` is cleared when the proxy goes first.
struct UdpImpairProxy::HandleBox {
  explicit HandleBox(UdpImpairProxy* proxy) : owner(proxy) {}
  virtual ~HandleBox() = default;
  HandleBox(const HandleBox&) = delete;
  HandleBox& operator=(const HandleBox&) = delete;
  virtual uv_handle_t* handle() = 0;

  UdpImpairProxy* owner;
};

struct UdpImpairProxy::Front final : HandleBox {
  using HandleBox::HandleBox;
  uv_handle_t* handle() override { return reinterpret_cast<uv_handle_t*>(&udp); }
  uv_udp_t udp{};
};

// The socket that speaks to the server for one client, connected to the upstream so the
// kernel filters out everyone else.
struct UdpImpairProxy::Upstream final : HandleBox {
  Upstream(UdpImpairProxy* proxy, const Endpoint& for_client)
      : HandleBox(proxy), client(for_client) {}
  uv_handle_t* handle() override { return reinterpret_cast<uv_handle_t*>(&udp); }
  uv_udp_t udp{};
  Endpoint client;
};

// libuv timers count whole milliseconds of uv_now(), which would make each delay up to
// 2 ms late; a timerfd armed to the exact microsecond and watched by a uv_poll_t is not.
struct UdpImpairProxy::Timer final : HandleBox {
  Timer(UdpImpairProxy* proxy, int timer_fd) : HandleBox(proxy), fd(timer_fd) {}
  ~Timer() override { ::close(fd); }
  uv_handle_t* handle() override { return reinterpret_cast<uv_handle_t*>(&poll); }
  uv_poll_t poll{};
  int fd;
};

struct UdpImpairProxy::Callbacks {
  static void closed(uv_handle_t* handle) {
    auto* box = static_cast<HandleBox*>(handle->data);
    if (box->owner != nullptr) box->owner->box_closed(box);
    delete box;
  }

  static void allocate(uv_handle_t*, size_t, uv_buf_t* buf) {
    *buf = uv_buf_init(receive_buffer(), kReceiveBufferSize);
  }

  static void front_received(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf,
                             const sockaddr* addr, unsigned flags) {
    if (nread == 0 && addr == nullptr) return;  // Nothing more to read for now.
    UdpImpairProxy& proxy = *static_cast<HandleBox*>(handle->data)->owner;
    if (nread < 0) {
      ++proxy.io_.receive_errors;
      return;
    }
    // libuv fills a sockaddr_storage, so its whole size is readable.
    auto client = from_sockaddr(addr, sizeof(sockaddr_storage));
    if (!client) {
      ++proxy.io_.receive_errors;
      return;
    }
    proxy.receive(Direction::kToServer, *client, bytes_of(buf, nread), flags);
  }

  static void upstream_received(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf,
                                const sockaddr* addr, unsigned flags) {
    if (nread == 0 && addr == nullptr) return;
    auto* box = static_cast<Upstream*>(handle->data);
    UdpImpairProxy& proxy = *box->owner;
    if (nread < 0) {
      ++proxy.io_.receive_errors;
      return;
    }
    proxy.receive(Direction::kToClient, box->client, bytes_of(buf, nread), flags);
  }

  static void timer_ready(uv_poll_t* handle, int, int) {
    auto* box = static_cast<Timer*>(handle->data);
    uint64_t expirations = 0;
    // Nothing to read (EAGAIN) when a re-arm raced the wake-up; either way the core decides.
    [[maybe_unused]] ssize_t n = ::read(box->fd, &expirations, sizeof(expirations));
    box->owner->timer_fired();
  }
};

UdpImpairProxy::UdpImpairProxy(uv_loop_s* loop, ProxyOptions options)
    : loop_(loop), options_(std::move(options)), random_(options_.seed) {}

UdpImpairProxy::~UdpImpairProxy() {
  for (HandleBox* box : boxes_) {
    box->owner = nullptr;
    close_box(box);
  }
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
  front_ = nullptr;
  timer_ = nullptr;
  upstreams_.clear();
  on_closed_ = std::move(on_closed);
  if (boxes_.empty()) {
    if (on_closed_) std::exchange(on_closed_, nullptr)();
    return;
  }
  for (HandleBox* box : boxes_)
    close_box(box);
}

Result<void, std::string> UdpImpairProxy::open_front() {
  sockaddr_storage addr{};
  if (to_sockaddr(options_.listen, addr) == 0) {
    return unexpected(fmt::format("invalid listen address {}", options_.listen));
  }
  auto* box = new Front(this);
  if (int rc = uv_udp_init(loop_, &box->udp); rc != 0) {
    delete box;
    return unexpected(uv_failure("open a socket for", options_.listen, rc));
  }
  box->udp.data = box;
  boxes_.insert(box);
  front_ = box;
  if (int rc = uv_udp_bind(&box->udp, as_sockaddr(addr), 0); rc != 0) {
    return unexpected(uv_failure("listen on", options_.listen, rc));
  }
  sockaddr_storage bound{};
  int len = sizeof(bound);
  if (int rc = uv_udp_getsockname(&box->udp, reinterpret_cast<sockaddr*>(&bound), &len); rc != 0) {
    return unexpected(uv_failure("read the address of", options_.listen, rc));
  }
  auto local = from_sockaddr(as_sockaddr(bound), static_cast<socklen_t>(len));
  if (!local) return unexpected(local.error());
  local_ = *local;
  if (int rc = uv_udp_recv_start(&box->udp, Callbacks::allocate, Callbacks::front_received);
      rc != 0) {
    return unexpected(uv_failure("receive on", local_, rc));
  }
  return {};
}

Result<void, std::string> UdpImpairProxy::open_timer() {
  const int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return unexpected(fmt::format("cannot create a timerfd: {}", strerror(errno)));
  auto* box = new Timer(this, fd);
  if (int rc = uv_poll_init(loop_, &box->poll, fd); rc != 0) {
    delete box;
    return unexpected(fmt::format("cannot watch a timerfd: {}", uv_strerror(rc)));
  }
  box->poll.data = box;
  boxes_.insert(box);
  timer_ = box;
  if (int rc = uv_poll_start(&box->poll, UV_READABLE, Callbacks::timer_ready); rc != 0) {
    return unexpected(fmt::format("cannot watch a timerfd: {}", uv_strerror(rc)));
  }
  return {};
}

bool UdpImpairProxy::open_upstream(const Endpoint& client) {
  sockaddr_storage upstream{};
  sockaddr_storage wildcard{};
  Endpoint any;
  any.family = options_.upstream.family;
  to_sockaddr(options_.upstream, upstream);
  to_sockaddr(any, wildcard);

  auto* box = new Upstream(this, client);
  int rc = uv_udp_init(loop_, &box->udp);
  if (rc != 0) {
    delete box;
  } else {
    box->udp.data = box;
    boxes_.insert(box);
    rc = uv_udp_bind(&box->udp, as_sockaddr(wildcard), 0);
    if (rc == 0) rc = uv_udp_connect(&box->udp, as_sockaddr(upstream));
    if (rc == 0)
      rc = uv_udp_recv_start(&box->udp, Callbacks::allocate, Callbacks::upstream_received);
    if (rc != 0) close_box(box);
  }
  if (rc != 0) {
    ++io_.upstream_errors;
    logger().debug("impair proxy {}: no upstream socket for {}: {}", local_, client,
                   uv_strerror(rc));
    return false;
  }
  upstreams_[client] = box;
  return true;
}

void UdpImpairProxy::close_box(HandleBox* box) {
  uv_handle_t* handle = box->handle();
  if (!uv_is_closing(handle)) uv_close(handle, Callbacks::closed);
}

void UdpImpairProxy::box_closed(HandleBox* box) {
  boxes_.erase(box);
  if (boxes_.empty() && on_closed_) std::exchange(on_closed_, nullptr)();
}

void UdpImpairProxy::receive(Direction direction, const Endpoint& client,
                             std::span<const uint8_t> bytes, unsigned flags) {
  if (!running_) return;
  if ((flags & UV_UDP_PARTIAL) != 0) {
    ++io_.truncated;
    return;
  }
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
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(departure.bytes.data()),
                               static_cast<unsigned>(departure.bytes.size()));
    int rc = 0;
    if (departure.direction == Direction::kToServer) {
      auto it = upstreams_.find(departure.client);
      // The core forgets a client without an upstream socket, so this is a bug if it happens.
      rc = it == upstreams_.end() ? UV_EBADF : uv_udp_try_send(&it->second->udp, &buf, 1, nullptr);
    } else {
      sockaddr_storage to{};
      to_sockaddr(departure.client, to);
      rc = uv_udp_try_send(&front_->udp, &buf, 1, as_sockaddr(to));
    }
    if (rc < 0) ++io_.send_errors;
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
      close_box(it->second);
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
  out += fmt::format("io: {} receive errors, {} truncated, {} send errors, {} upstream errors",
                     io_.receive_errors, io_.truncated, io_.send_errors, io_.upstream_errors);
  return out;
}

}  // namespace turnscout::impair
