// One UDP socket on a libuv loop: the only UDP wrapper of the project (server workers,
// virtual cluster nodes, the client driver, the impairment proxy).
//
// Receiving: in batches (UV_UDP_RECVMMSG) into the thread's one receive buffer; every whole
// datagram goes to the handler, truncated ones and errors are only counted. Sending: either
// queued in the port's SendBatch and sent with one sendmmsg at the end of a receive batch or
// loop iteration (replies on the hot path), or one at a time with send(): uv_udp_try_send,
// and, while the kernel buffer is full, through a bounded queue of uv_udp_send requests when
// the options allow one (otherwise the datagram is dropped and counted). No allocation per
// received datagram or per batched reply.
//
// Lifetime: close() it, then keep the port until `on_closed` ran; close_and_free() does
// both for an owner that goes away first. Memory: all the ports of a thread share one
// receive buffer (1.25 MiB, what a full recvmmsg batch needs), so a thousand ports on one
// loop cost no more than one.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "base/address.hpp"
#include "base/counter.hpp"
#include "base/result.hpp"
#include "common/send_batch.hpp"
#include "common/udp_socket.hpp"

namespace turnscout {

class UdpPort;

// Written on the port's thread, readable from any (metrics).
struct UdpPortCounters {
  Counter received;        // Whole datagrams handed to the handler.
  Counter receive_errors;  // recv errors, truncated datagrams, unreadable source addresses.
  Counter sent;            // Datagrams the kernel took.
  Counter queued;          // Sent through the queue because the kernel buffer was full.
  Counter send_dropped;    // Refused by the kernel, or the queue was full (not retried).
};

class UdpPortHandler {
 public:
  virtual ~UdpPortHandler() = default;
  // A datagram from `remote`; `bytes` is valid during the call only (it lies in the
  // thread's shared receive buffer, so a handler must not run a nested uv_run on this
  // thread). Replies may go into port.batch() or port.send().
  virtual void on_datagram(UdpPort& port, const Endpoint& remote,
                           std::span<const uint8_t> bytes) = 0;
  // A queued send failed later (a libuv error code); sends refused at once are reported
  // by send()'s return value instead.
  virtual void on_send_failed(UdpPort& /*port*/, const Endpoint& /*to*/, int /*status*/) {}
};

struct UdpPortOptions {
  // Sends the kernel could not take at once that may wait in the port, in order (each a
  // copy); 0 drops them instead (the server: a full buffer must not grow memory).
  size_t send_queue = 0;
};

class UdpPort {
 public:
  // Adopts `socket` (closing it on failure) and starts receiving. `handler` and `counters`
  // must outlive the port.
  static Result<std::unique_ptr<UdpPort>, std::string> open(uv_loop_t* loop, BoundSocket socket,
                                                            UdpPortHandler& handler,
                                                            UdpPortCounters& counters,
                                                            UdpPortOptions options = {});
  // Binds a new socket to `at` (port 0: a free one; an IPv6 socket is IPv6-only) and opens it.
  static Result<std::unique_ptr<UdpPort>, std::string> bind(uv_loop_t* loop, const Endpoint& at,
                                                            UdpPortHandler& handler,
                                                            UdpPortCounters& counters,
                                                            UdpPortOptions options = {});
  // close() and delete once libuv is done; for an owner that may go first.
  static void close_and_free(std::unique_ptr<UdpPort> port);

  UdpPort(const UdpPort&) = delete;
  UdpPort& operator=(const UdpPort&) = delete;
  ~UdpPort();

  const Endpoint& local() const { return local_; }
  // Replies queued here leave in one sendmmsg (see the header comment).
  SendBatch& batch() { return batch_; }
  // True when libuv reads this socket with recvmmsg (false on kernels without it).
  bool batched_receive() const;

  // Sends what batch() holds.
  void flush();
  // Connects the socket: only `peer` is heard, and send() with an invalid `to` goes to it.
  // A libuv error code, or 0.
  int connect(const Endpoint& peer);
  // Sends one datagram now (or queues it, see UdpPortOptions). 0, or a libuv error code:
  // UV_ENOBUFS when it was dropped for a full kernel buffer or queue.
  int send(const Endpoint& to, std::span<const uint8_t> bytes);
  // Whether the socket keeps the loop alive (uv_ref / uv_unref); it does by default.
  void set_ref(bool ref);
  // Stops receiving, sends what batch() holds, and closes the handles; `on_closed` runs from
  // the loop once libuv is done with them (queued sends complete as cancelled first).
  void close(std::function<void()> on_closed = {});

 private:
  struct SendRequest;
  UdpPort(uv_loop_t* loop, const Endpoint& local, UdpPortHandler& handler,
          UdpPortCounters& counters, UdpPortOptions options);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                         unsigned flags);
  static void on_check(uv_check_t* check);
  static void on_sent(uv_udp_send_t* req, int status);
  static void on_handle_closed(uv_handle_t* handle);
  void receive_one(ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned flags);
  int enqueue(const Endpoint& to, const sockaddr* dest, std::span<const uint8_t> bytes);

  uv_udp_t udp_{};
  uv_check_t check_{};  // Flushes what a batch left behind once per loop iteration.
  bool open_ = false;
  int closing_ = 0;  // Handles whose close callback has not run.
  std::function<void()> on_closed_;
  Endpoint local_;
  std::optional<Endpoint> peer_;
  UdpPortHandler& handler_;
  UdpPortCounters& counters_;
  UdpPortOptions options_;
  size_t in_queue_ = 0;  // uv_udp_send requests not completed yet.
  SendBatch batch_;
};

}  // namespace turnscout
