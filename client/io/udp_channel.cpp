#include "client/io/udp_channel.hpp"

#include <array>
#include <cstring>
#include <vector>

#include "base/endpoint.hpp"
#include "common/sockaddr.hpp"

namespace turnscout::client {

// Whole datagrams up to the UDP maximum; a larger one arrives flagged UV_UDP_PARTIAL.
inline constexpr size_t kReceiveBufferSize = 64 * 1024;

struct UdpChannel::Socket {
  uv_udp_t handle{};
  UdpChannel* owner = nullptr;  // Null once the channel is gone and the handle closing.
  size_t queued = 0;            // uv_udp_send requests not completed yet.
  std::array<char, kReceiveBufferSize> buffer{};
};

namespace {

struct SendRequest {
  uv_udp_send_t req{};
  Endpoint to;
  std::vector<uint8_t> bytes;
};

using Socket = UdpChannel::Socket;

void on_closed(uv_handle_t* handle) {
  delete static_cast<Socket*>(handle->data);
}

void on_alloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto* socket = static_cast<Socket*>(handle->data);
  *buf = uv_buf_init(socket->buffer.data(), static_cast<unsigned>(socket->buffer.size()));
}

}  // namespace

// libuv's callbacks; the channel may be gone by then (owner null).
struct UdpChannelCallbacks {
  static void on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                         unsigned flags) {
    auto* socket = static_cast<Socket*>(handle->data);
    if (socket->owner != nullptr) socket->owner->received(nread, buf, addr, flags);
  }
  static void on_sent(uv_udp_send_t* req, int status) {
    std::unique_ptr<SendRequest> request(static_cast<SendRequest*>(req->data));
    auto* socket = static_cast<Socket*>(req->handle->data);
    --socket->queued;
    if (socket->owner != nullptr) socket->owner->send_done(request->to, status);
  }
};

Result<std::unique_ptr<UdpChannel>, int> UdpChannel::open(uv_loop_t* loop, Family family,
                                                          UdpChannelEvents events) {
  const bool v6 = family == Family::kV6;
  auto* socket = new Socket;
  socket->handle.data = socket;
  if (int rc = uv_udp_init_ex(loop, &socket->handle, v6 ? AF_INET6 : AF_INET); rc < 0) {
    delete socket;  // Never initialised: nothing for the loop to close.
    return unexpected(rc);
  }
  Endpoint any;
  any.family = v6 ? Family::kV6 : Family::kV4;
  sockaddr_storage addr{};
  to_sockaddr(any, addr);
  int rc = uv_udp_bind(&socket->handle, reinterpret_cast<const sockaddr*>(&addr),
                       v6 ? static_cast<unsigned>(UV_UDP_IPV6ONLY) : 0u);
  if (rc == 0) rc = uv_udp_recv_start(&socket->handle, on_alloc, UdpChannelCallbacks::on_receive);
  sockaddr_storage bound{};
  int bound_len = sizeof bound;
  if (rc == 0)
    rc = uv_udp_getsockname(&socket->handle, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  if (rc < 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&socket->handle), on_closed);
    return unexpected(rc);
  }
  std::unique_ptr<UdpChannel> channel(new UdpChannel(socket, std::move(events)));
  if (auto local = from_sockaddr(reinterpret_cast<const sockaddr*>(&bound),
                                 static_cast<socklen_t>(bound_len))) {
    channel->local_ = *local;
  }
  return channel;
}

UdpChannel::UdpChannel(Socket* socket, UdpChannelEvents events)
    : socket_(socket), events_(std::move(events)) {
  socket_->owner = this;
}

UdpChannel::~UdpChannel() {
  socket_->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&socket_->handle), on_closed);
}

int UdpChannel::send(const Endpoint& to, std::span<const uint8_t> bytes) {
  sockaddr_storage addr{};
  if (to_sockaddr(to, addr) == 0) return UV_EINVAL;
  const auto* dest = reinterpret_cast<const sockaddr*>(&addr);
  // uv_buf_t wants a mutable pointer; libuv only reads through it.
  uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(bytes.data())),
                             static_cast<unsigned>(bytes.size()));
  const int rc = uv_udp_try_send(&socket_->handle, &buf, 1, dest);
  if (rc >= 0) {
    ++counters_.sent;
    return 0;
  }
  if (rc != UV_EAGAIN) return rc;
  // The kernel buffer is full, or earlier sends are still queued: keep the order.
  if (socket_->queued >= kMaxQueuedSends) {
    ++counters_.queue_full;
    return UV_ENOBUFS;
  }
  auto request = std::make_unique<SendRequest>();
  request->to = to;
  request->bytes.assign(bytes.begin(), bytes.end());
  request->req.data = request.get();
  uv_buf_t copy = uv_buf_init(reinterpret_cast<char*>(request->bytes.data()),
                              static_cast<unsigned>(request->bytes.size()));
  if (int queued = uv_udp_send(&request->req, &socket_->handle, &copy, 1, dest,
                               UdpChannelCallbacks::on_sent);
      queued < 0) {
    return queued;
  }
  request.release();  // Owned by libuv until on_sent.
  ++socket_->queued;
  ++counters_.queued;
  return 0;
}

void UdpChannel::set_ref(bool ref) {
  auto* handle = reinterpret_cast<uv_handle_t*>(&socket_->handle);
  if (ref) {
    uv_ref(handle);
  } else {
    uv_unref(handle);
  }
}

void UdpChannel::received(ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                          unsigned flags) {
  if (nread == 0 && addr == nullptr) return;  // Nothing more to read for now.
  if (nread < 0) {
    ++counters_.receive_errors;  // The socket keeps reading; a reply may still come.
    return;
  }
  if ((flags & UV_UDP_PARTIAL) != 0) {
    ++counters_.truncated;
    return;
  }
  // The peer address is a sockaddr_storage inside libuv (see uv_udp_recv_cb).
  auto from = from_sockaddr(addr, sizeof(sockaddr_storage));
  if (!from) {
    ++counters_.receive_errors;
    return;
  }
  ++counters_.received;
  const auto* data = reinterpret_cast<const uint8_t*>(buf->base);
  events_.on_datagram(local_, *from, std::span<const uint8_t>(data, static_cast<size_t>(nread)));
}

void UdpChannel::send_done(const Endpoint& to, int status) {
  if (status < 0 && status != UV_ECANCELED) events_.on_send_error(to, status);
}

}  // namespace turnscout::client
