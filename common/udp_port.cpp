#include "common/udp_port.hpp"

#include <unistd.h>

#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"

namespace turnscout {
namespace {

// libuv 1.44 splits the receive buffer into 64 KiB chunks, one datagram each, and reads at
// most 20 of them per recvmmsg call (src/unix/udp.c). A smaller buffer disables batching.
constexpr size_t kChunkSize = 64 * 1024;
constexpr size_t kChunksPerBatch = 20;

// libuv allocates a buffer for one handle, reads into it and delivers every datagram in it
// before it serves another handle of the loop, so all the ports of a thread can share one.
// Left uninitialised: only the pages datagrams are written to become resident.
uv_buf_t receive_buffer() {
  constexpr size_t kSize = kChunkSize * kChunksPerBatch;
  thread_local std::unique_ptr<uint8_t[]> buffer = std::make_unique_for_overwrite<uint8_t[]>(kSize);
  return uv_buf_init(reinterpret_cast<char*>(buffer.get()), static_cast<unsigned>(kSize));
}

uv_buf_t as_buf(std::span<const uint8_t> bytes) {
  // uv_buf_t wants a mutable pointer; libuv only reads through it.
  return uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(bytes.data())),
                     static_cast<unsigned>(bytes.size()));
}

}  // namespace

struct UdpPort::SendRequest {
  uv_udp_send_t req{};
  UdpPort* port = nullptr;
  Endpoint to;
  std::vector<uint8_t> bytes;
};

UdpPort::UdpPort(uv_loop_t* loop, const Endpoint& local, UdpPortHandler& handler,
                 UdpPortCounters& counters, UdpPortOptions options)
    : local_(local), handler_(handler), counters_(counters), options_(options) {
  uv_udp_init_ex(loop, &udp_, AF_UNSPEC | UV_UDP_RECVMMSG);
  uv_check_init(loop, &check_);
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));  // Only the socket keeps a loop alive.
  udp_.data = this;
  check_.data = this;
  open_ = true;
}

UdpPort::~UdpPort() = default;

Result<std::unique_ptr<UdpPort>, std::string> UdpPort::open(uv_loop_t* loop, BoundSocket socket,
                                                            UdpPortHandler& handler,
                                                            UdpPortCounters& counters,
                                                            UdpPortOptions options) {
  std::unique_ptr<UdpPort> port(new UdpPort(loop, socket.local, handler, counters, options));
  int rc = uv_udp_open(&port->udp_, socket.fd);
  if (rc != 0) ::close(socket.fd);
  if (rc == 0) rc = uv_udp_recv_start(&port->udp_, &UdpPort::on_alloc, &UdpPort::on_receive);
  if (rc == 0) rc = uv_check_start(&port->check_, &UdpPort::on_check);
  if (rc != 0) {
    close_and_free(std::move(port));
    return unexpected(fmt::format("cannot listen on UDP {}: {}", socket.local, uv_strerror(rc)));
  }
  return port;
}

Result<std::unique_ptr<UdpPort>, std::string> UdpPort::bind(uv_loop_t* loop, const Endpoint& at,
                                                            UdpPortHandler& handler,
                                                            UdpPortCounters& counters,
                                                            UdpPortOptions options) {
  auto socket = open_udp_socket(at, {});
  if (!socket) return unexpected(socket.error());
  return open(loop, *socket, handler, counters, options);
}

void UdpPort::close_and_free(std::unique_ptr<UdpPort> port) {
  if (!port) return;
  UdpPort* closing = port.release();
  closing->close([closing] { delete closing; });
}

void UdpPort::on_alloc(uv_handle_t* /*handle*/, size_t /*suggested*/, uv_buf_t* buf) {
  *buf = receive_buffer();
}

void UdpPort::on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                         unsigned flags) {
  static_cast<UdpPort*>(handle->data)->receive_one(nread, buf, addr, flags);
}

// Four cases: a datagram (addr set, maybe empty), the end of a recvmmsg batch
// (UV_UDP_MMSG_FREE), "nothing more to read" (nread 0, no addr), and an error.
void UdpPort::receive_one(ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                          unsigned flags) {
  if (!open_) return;
  if (nread < 0) {
    counters_.receive_errors.add();
    flush();
    return;
  }
  if (addr == nullptr || (flags & UV_UDP_MMSG_FREE) != 0) {
    flush();
    return;
  }
  if ((flags & UV_UDP_PARTIAL) != 0) {
    counters_.receive_errors.add();
    return;
  }
  // libuv's recvmmsg path stores peers as sockaddr_in6, its recvmsg path as sockaddr_storage.
  auto remote = from_sockaddr(addr, sizeof(sockaddr_in6));
  if (!remote) {
    counters_.receive_errors.add();
    return;
  }
  counters_.received.add();
  const auto* data = reinterpret_cast<const uint8_t*>(buf->base);
  handler_.on_datagram(*this, *remote, {data, static_cast<size_t>(nread)});
  if (batch_.full()) flush();
}

bool UdpPort::batched_receive() const {
  return uv_udp_using_recvmmsg(&udp_) != 0;
}

void UdpPort::on_check(uv_check_t* check) {
  auto* self = static_cast<UdpPort*>(check->data);
  if (!self->batch_.empty()) self->flush();
}

void UdpPort::flush() {
  if (batch_.empty() || !open_) return;
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&udp_), &fd) != 0) {
    counters_.send_dropped.add(batch_.size());
    return;
  }
  const FlushResult r = batch_.flush(fd);
  counters_.sent.add(r.sent);
  if (r.dropped > 0) counters_.send_dropped.add(r.dropped);
}

int UdpPort::connect(const Endpoint& peer) {
  sockaddr_storage addr{};
  if (!open_ || to_sockaddr(peer, addr) == 0) return UV_EINVAL;
  const int rc = uv_udp_connect(&udp_, reinterpret_cast<const sockaddr*>(&addr));
  if (rc == 0) peer_ = peer;
  return rc;
}

int UdpPort::send(const Endpoint& to, std::span<const uint8_t> bytes) {
  if (!open_) return UV_EBADF;
  sockaddr_storage addr{};
  const sockaddr* dest = nullptr;  // Connected: the peer.
  if (!peer_) {
    if (to_sockaddr(to, addr) == 0) return UV_EINVAL;
    dest = reinterpret_cast<const sockaddr*>(&addr);
  }
  uv_buf_t buf = as_buf(bytes);
  // Earlier sends still queued go first: keep the order.
  const int rc = in_queue_ > 0 ? UV_EAGAIN : uv_udp_try_send(&udp_, &buf, 1, dest);
  if (rc >= 0) {
    counters_.sent.add();
    return 0;
  }
  if (rc == UV_EAGAIN) return enqueue(peer_ ? *peer_ : to, dest, bytes);
  counters_.send_dropped.add();
  return rc;
}

int UdpPort::enqueue(const Endpoint& to, const sockaddr* dest, std::span<const uint8_t> bytes) {
  if (in_queue_ >= options_.send_queue) {
    counters_.send_dropped.add();
    return UV_ENOBUFS;
  }
  auto request = std::make_unique<SendRequest>();
  request->port = this;
  request->to = to;
  request->bytes.assign(bytes.begin(), bytes.end());
  request->req.data = request.get();
  uv_buf_t copy = as_buf(request->bytes);
  if (const int rc = uv_udp_send(&request->req, &udp_, &copy, 1, dest, &UdpPort::on_sent); rc < 0) {
    counters_.send_dropped.add();
    return rc;
  }
  request.release();  // Owned by libuv until on_sent.
  ++in_queue_;
  counters_.queued.add();
  return 0;
}

// Runs before the port's close callbacks, so the port is still there; once it is closing,
// the owner of the counters and the handler may be gone, so only the port is touched.
void UdpPort::on_sent(uv_udp_send_t* req, int status) {
  std::unique_ptr<SendRequest> request(static_cast<SendRequest*>(req->data));
  UdpPort& port = *request->port;
  --port.in_queue_;
  if (!port.open_) return;
  if (status == 0) {
    port.counters_.sent.add();
  } else if (status != UV_ECANCELED) {
    port.counters_.send_dropped.add();
    port.handler_.on_send_failed(port, request->to, status);
  }
}

void UdpPort::set_ref(bool ref) {
  if (!open_) return;
  auto* handle = reinterpret_cast<uv_handle_t*>(&udp_);
  if (ref) {
    uv_ref(handle);
  } else {
    uv_unref(handle);
  }
}

void UdpPort::close(std::function<void()> on_closed) {
  if (!open_) {
    if (closing_ == 0 && on_closed) on_closed();
    return;
  }
  flush();
  open_ = false;
  on_closed_ = std::move(on_closed);
  closing_ = 2;
  uv_udp_recv_stop(&udp_);
  uv_close(reinterpret_cast<uv_handle_t*>(&udp_), &UdpPort::on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), &UdpPort::on_handle_closed);
}

void UdpPort::on_handle_closed(uv_handle_t* handle) {
  auto* self = static_cast<UdpPort*>(handle->data);
  if (--self->closing_ == 0 && self->on_closed_) std::exchange(self->on_closed_, nullptr)();
}

}  // namespace turnscout
