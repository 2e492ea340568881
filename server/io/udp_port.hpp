// One UDP socket on one worker's loop: receives in batches (UV_UDP_RECVMMSG), hands every
// datagram to the worker, and sends the queued replies with one sendmmsg at the end of each
// batch. No allocation per datagram.
//
// Lifetime: the owner calls close() and keeps the port until `on_closed` ran (libuv may
// touch the handles until their close callbacks have run).
//
// Memory: every port of one thread reads into that thread's one receive buffer (1.25 MiB,
// what a full recvmmsg batch needs), so a thousand ports on one loop cost no more than one.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/result.hpp"
#include "server/io/io_counters.hpp"
#include "server/io/send_batch.hpp"
#include "server/io/udp_socket.hpp"

namespace turnscout::server {

class UdpPort;

class DatagramHandler {
 public:
  virtual ~DatagramHandler() = default;
  // `bytes` is valid during the call only. Replies go into port.batch().
  virtual void on_datagram(UdpPort& port, const Endpoint& remote,
                           std::span<const uint8_t> bytes) = 0;
};

class UdpPort {
 public:
  // Adopts `socket` (closing it on failure) and starts receiving. `configured` is the
  // address from the config (port 0 possible); the socket knows the real one.
  static Result<std::unique_ptr<UdpPort>, std::string> open(uv_loop_t* loop, BoundSocket socket,
                                                            const Endpoint& configured,
                                                            DatagramHandler& handler,
                                                            IoCounters& counters);
  UdpPort(const UdpPort&) = delete;
  UdpPort& operator=(const UdpPort&) = delete;
  ~UdpPort();

  const Endpoint& local() const { return local_; }
  const Endpoint& configured() const { return configured_; }
  SendBatch& batch() { return batch_; }
  // True when libuv reads this socket with recvmmsg (false on kernels without it).
  bool batched_receive() const;

  // Sends what batch() holds.
  void flush();
  // Sends one datagram at once (control traffic). False if the socket refused it.
  bool send_now(const Endpoint& to, std::span<const uint8_t> bytes);
  // Stops receiving, sends what is queued, and closes the handles; `on_closed` runs from
  // the loop once libuv is done with them.
  void close(std::function<void()> on_closed = {});

 private:
  UdpPort(uv_loop_t* loop, const Endpoint& local, const Endpoint& configured,
          DatagramHandler& handler, IoCounters& counters);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                         unsigned flags);
  static void on_check(uv_check_t* check);
  static void on_handle_closed(uv_handle_t* handle);
  void receive_one(ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned flags);

  uv_udp_t udp_{};
  uv_check_t check_{};  // Flushes what a batch left behind once per loop iteration.
  bool open_ = false;
  int closing_ = 0;  // Handles whose close callback has not run.
  std::function<void()> on_closed_;
  Endpoint local_;
  Endpoint configured_;
  DatagramHandler& handler_;
  IoCounters& counters_;
  SendBatch batch_;
};

}  // namespace turnscout::server
