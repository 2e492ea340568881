#include "server/io/udp_port.hpp"

#include <unistd.h>

#include <utility>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"

namespace turnscout::server {
namespace {

// libuv 1.44 splits the receive buffer into 64 KiB chunks, one datagram each, and reads at
// most 20 of them per recvmmsg call (src/unix/udp.c). A smaller buffer disables batching.
constexpr size_t kChunkSize = 64 * 1024;
constexpr size_t kChunksPerBatch = 20;

// libuv allocates a buffer for one handle, reads into it and delivers every datagram in it
// before it serves another handle of the loop, so all the ports of a thread can share one.
std::vector<uint8_t>& receive_buffer() {
  thread_local std::vector<uint8_t> buffer(kChunkSize * kChunksPerBatch);
  return buffer;
}

}  // namespace

UdpPort::UdpPort(uv_loop_t* loop, const Endpoint& local, const Endpoint& configured,
                 DatagramHandler& handler, IoCounters& counters)
    : local_(local), configured_(configured), handler_(handler), counters_(counters) {
  uv_udp_init_ex(loop, &udp_, AF_UNSPEC | UV_UDP_RECVMMSG);
  uv_check_init(loop, &check_);
  udp_.data = this;
  check_.data = this;
  open_ = true;
}

UdpPort::~UdpPort() = default;

Result<std::unique_ptr<UdpPort>, std::string> UdpPort::open(uv_loop_t* loop, BoundSocket socket,
                                                            const Endpoint& configured,
                                                            DatagramHandler& handler,
                                                            IoCounters& counters) {
  std::unique_ptr<UdpPort> port(new UdpPort(loop, socket.local, configured, handler, counters));
  int rc = uv_udp_open(&port->udp_, socket.fd);
  if (rc != 0) ::close(socket.fd);
  if (rc == 0) rc = uv_udp_recv_start(&port->udp_, &UdpPort::on_alloc, &UdpPort::on_receive);
  if (rc == 0) rc = uv_check_start(&port->check_, &UdpPort::on_check);
  if (rc != 0) {
    UdpPort* closing = port.release();  // Freed once libuv is done with its handles.
    closing->close([closing] { delete closing; });
    return unexpected(fmt::format("cannot listen on UDP {}: {}", socket.local, uv_strerror(rc)));
  }
  return port;
}

void UdpPort::on_alloc(uv_handle_t* /*handle*/, size_t /*suggested*/, uv_buf_t* buf) {
  std::vector<uint8_t>& buffer = receive_buffer();
  *buf = uv_buf_init(reinterpret_cast<char*>(buffer.data()), static_cast<unsigned>(buffer.size()));
}

void UdpPort::on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                         unsigned flags) {
  static_cast<UdpPort*>(handle->data)->receive_one(nread, buf, addr, flags);
}

// Four cases: a datagram (addr set, maybe empty), the end of a recvmmsg batch
// (UV_UDP_MMSG_FREE), "nothing more to read" (nread 0, no addr), and an error.
void UdpPort::receive_one(ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                          unsigned flags) {
  if (nread < 0) {
    counters_.receive_errors.add();
    flush();
    return;
  }
  if (addr == nullptr || (flags & UV_UDP_MMSG_FREE) != 0) {
    flush();
    return;
  }
  counters_.received.add();
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
  if (r.dropped > 0) counters_.send_dropped.add(r.dropped);
}

bool UdpPort::send_now(const Endpoint& to, std::span<const uint8_t> bytes) {
  if (!open_) return false;
  sockaddr_storage addr{};
  if (to_sockaddr(to, addr) == 0) return false;
  uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(bytes.data())),
                             static_cast<unsigned>(bytes.size()));
  const int rc = uv_udp_try_send(&udp_, &buf, 1, reinterpret_cast<const sockaddr*>(&addr));
  if (rc < 0) counters_.send_dropped.add();
  return rc >= 0;
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

}  // namespace turnscout::server
