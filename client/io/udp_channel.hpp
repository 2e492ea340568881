// One UDP socket of one address family for the client driver: bound to the wildcard
// address on a port the OS picks, reading every datagram into one fixed buffer, sending with
// uv_udp_try_send and, while the kernel buffer is full, through a bounded queue of
// uv_udp_send requests. It only moves bytes; what they mean is the Prober's business.
//
// Lifetime: the uv_udp_t lives in a heap block that its close callback frees, so a
// UdpChannel may be destroyed at any time except from inside its own events; the loop must
// run afterwards for the close to complete. Sends still queued then complete
// as cancelled and touch nothing else.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "base/address.hpp"
#include "base/result.hpp"

namespace turnscout::client {

struct UdpChannelEvents {
  // A datagram from `from`; `bytes` is valid during the call only.
  std::function<void(const Endpoint& local, const Endpoint& from, std::span<const uint8_t> bytes)>
      on_datagram;
  // A queued send failed (a libuv error code). Sends that fail at once are reported by
  // send()'s return value instead.
  std::function<void(const Endpoint& to, int status)> on_send_error;
};

struct UdpChannelCounters {
  uint64_t received = 0;
  uint64_t receive_errors = 0;
  uint64_t truncated = 0;  // Larger than the buffer: dropped.
  uint64_t sent = 0;       // Handed to the kernel at once.
  uint64_t queued = 0;     // Sent through the queue.
  uint64_t queue_full = 0;
};

class UdpChannel {
 public:
  // Sends waiting in the queue at most; more are refused with UV_ENOBUFS (the core
  // retransmits, so a burst is thinned rather than buffered without bound).
  static constexpr size_t kMaxQueuedSends = 256;

  // Opens, binds and starts reading; a libuv error code when any step fails. `family` is
  // Family::kV4 or Family::kV6 (an IPv6-only socket).
  static Result<std::unique_ptr<UdpChannel>, int> open(uv_loop_t* loop, Family family,
                                                       UdpChannelEvents events);
  ~UdpChannel();
  UdpChannel(const UdpChannel&) = delete;
  UdpChannel& operator=(const UdpChannel&) = delete;

  // 0 when the datagram was sent or queued, else a negative libuv error code.
  int send(const Endpoint& to, std::span<const uint8_t> bytes);
  // Whether the socket keeps the loop alive (uv_ref / uv_unref).
  void set_ref(bool ref);

  const Endpoint& local() const { return local_; }
  const UdpChannelCounters& counters() const { return counters_; }

  struct Socket;  // The libuv handle and its receive buffer.

 private:
  friend struct UdpChannelCallbacks;

  UdpChannel(Socket* socket, UdpChannelEvents events);
  void received(ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned flags);
  void send_done(const Endpoint& to, int status);

  Socket* socket_;
  UdpChannelEvents events_;
  Endpoint local_;
  UdpChannelCounters counters_;
};

}  // namespace turnscout::client
