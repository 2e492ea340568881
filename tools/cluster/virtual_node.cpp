#include "tools/cluster/virtual_node.hpp"

#include <uv.h>

#include <array>
#include <utility>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"
#include "tools/impair/udp_impair_proxy.hpp"

namespace turnscout::cluster {
namespace {

constexpr size_t kReceiveBuffer = 65536;

// One loop runs every callback in turn and libuv hands a buffer to exactly one receive
// right after allocating it, so all the nodes of a thread can share one buffer.
thread_local std::array<char, kReceiveBuffer> receive_buffer;

}  // namespace

// The handles live apart from the node, because libuv needs their memory until the close
// callbacks ran, which may be after the node is gone. `owner` is cleared on close so a
// late callback does nothing.
struct VirtualNode::Handles {
  uv_udp_t udp{};
  uv_timer_t timer{};
  VirtualNode* owner = nullptr;
  int open = 0;  // Handles initialised and not yet closed.
};

struct VirtualNode::Callbacks {
  static void alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    *buf = uv_buf_init(receive_buffer.data(), static_cast<unsigned>(receive_buffer.size()));
  }

  static void receive(uv_udp_t* udp, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                      unsigned flags) {
    auto* h = static_cast<Handles*>(udp->data);
    if (h->owner == nullptr) return;
    VirtualNode& node = *h->owner;
    if (nread < 0) {
      ++node.io_.receive_errors;
      return;
    }
    if (addr == nullptr) return;  // Nothing more to read.
    if ((flags & UV_UDP_PARTIAL) != 0) {
      ++node.io_.truncated;
      return;
    }
    auto from = from_sockaddr(addr, sizeof(sockaddr_storage));
    if (!from) return;
    node.receive(*from, reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
  }

  static void timer(uv_timer_t* timer) {
    auto* h = static_cast<Handles*>(timer->data);
    if (h->owner != nullptr) h->owner->timer_fired();
  }

  static void closed(uv_handle_t* handle) {
    auto* h = static_cast<Handles*>(handle->data);
    if (--h->open == 0) delete h;
  }
};

VirtualNode::VirtualNode(uv_loop_s* loop) : loop_(loop) {}

VirtualNode::~VirtualNode() {
  close();
}

Result<Endpoint, std::string> VirtualNode::bind(const Endpoint& at) {
  if (handles_ != nullptr) return unexpected(std::string("already bound"));
  auto* h = new Handles;
  h->owner = this;
  h->udp.data = h;
  h->timer.data = h;
  handles_ = h;
  int rc = uv_udp_init(loop_, &h->udp);
  if (rc == 0) ++h->open;
  if (rc == 0) {
    rc = uv_timer_init(loop_, &h->timer);
    if (rc == 0) ++h->open;
  }
  sockaddr_storage storage{};
  if (rc == 0 && to_sockaddr(at, storage) == 0) rc = UV_EINVAL;
  if (rc == 0) rc = uv_udp_bind(&h->udp, reinterpret_cast<const sockaddr*>(&storage), 0);
  if (rc == 0) {
    int len = sizeof(storage);
    rc = uv_udp_getsockname(&h->udp, reinterpret_cast<sockaddr*>(&storage), &len);
  }
  if (rc != 0) {
    close();
    return unexpected(fmt::format("cannot bind {}: {}", at, uv_strerror(rc)));
  }
  auto bound = from_sockaddr(reinterpret_cast<const sockaddr*>(&storage), sizeof(storage));
  if (!bound) {
    close();
    return unexpected(bound.error());
  }
  local_ = *bound;
  return local_;
}

Result<void, std::string> VirtualNode::start(std::unique_ptr<server::ServerCore> core) {
  if (handles_ == nullptr || handles_->owner == nullptr || core_) {
    return unexpected(std::string("start() needs a bound node, once"));
  }
  core_ = std::move(core);
  const int rc = uv_udp_recv_start(&handles_->udp, &Callbacks::alloc, &Callbacks::receive);
  if (rc != 0) return unexpected(fmt::format("cannot receive on {}: {}", local_, uv_strerror(rc)));
  flush();
  return {};
}

void VirtualNode::close() {
  Handles* h = std::exchange(handles_, nullptr);
  if (h == nullptr) return;
  h->owner = nullptr;
  const int open = h->open;
  if (open == 0) {
    delete h;
    return;
  }
  // Handles are initialised in order: the socket first, then the timer.
  uv_close(reinterpret_cast<uv_handle_t*>(&h->udp), &Callbacks::closed);
  if (open == 2) uv_close(reinterpret_cast<uv_handle_t*>(&h->timer), &Callbacks::closed);
}

void VirtualNode::receive(const Endpoint& from, const uint8_t* data, size_t size) {
  ++io_.received;
  if (!core_) return;
  core_->on_datagram(impair::hrtime_now(), local_, from, {data, size});
  flush();
}

void VirtualNode::timer_fired() {
  const TimePoint now = impair::hrtime_now();
  if (core_->next_timeout() <= now) core_->on_timeout(now);
  flush();
}

void VirtualNode::flush() {
  if (handles_ == nullptr || !core_) return;
  outbox_.clear();
  core_->poll_transmit(outbox_);
  for (const Datagram& d : outbox_) {
    sockaddr_storage to{};
    if (to_sockaddr(d.remote, to) == 0) {
      ++io_.send_errors;
      continue;
    }
    uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(d.bytes.data())),
                               static_cast<unsigned>(d.bytes.size()));
    const int rc = uv_udp_try_send(&handles_->udp, &buf, 1, reinterpret_cast<const sockaddr*>(&to));
    if (rc < 0) {
      ++io_.send_errors;
    } else {
      ++io_.sent;
    }
  }
  const TimePoint next = core_->next_timeout();
  if (next == kNever) {
    uv_timer_stop(&handles_->timer);
    return;
  }
  // uv timers count whole ms from the loop's cached time: refresh it and round up, so the
  // timer never fires before the core is due (an early one is simply re-armed).
  uv_update_time(loop_);
  const TimePoint now = impair::hrtime_now();
  const auto wait = next > now ? next - now : Duration::zero();
  const uint64_t ms = static_cast<uint64_t>((wait.count() + 999) / 1000);
  uv_timer_start(&handles_->timer, &Callbacks::timer, ms, 0);
}

}  // namespace turnscout::cluster
