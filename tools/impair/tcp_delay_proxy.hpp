// A TCP forwarder in front of one server that adds a link's one-way delay to the bytes of
// each direction, in order, and a round trip before a connection's first bytes reach the
// server (StreamDelay). With the UDP proxy's loss turned into a black hole, it is how
// `turnscout cluster --block-udp` shows a network where only TCP gets through.
//
// Per connection: the accepted socket, one to the server (opened at once: the handshake's
// cost is the delay of the first bytes) and a timer. Bounded: at most kMaxConnections
// (more are closed at accept) and kMaxQueued bytes waiting per direction, in the delay line
// or unwritten to a side that does not read (then the connection is closed). Either side
// closing or failing closes both at once, with whatever was still on its way: the client
// closes once answered, so nothing it waits for is lost. The server sees every client as
// the proxy's address, so per-address limits count all of them together. The process must
// ignore SIGPIPE: a side that resets its connection while bytes are written to it would kill
// it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"

#include <uv.h>

namespace turnscout::impair {

class TcpDelayProxy {
 public:
  static constexpr size_t kMaxConnections = 256;
  static constexpr size_t kMaxQueued = 1 << 20;

  // `loop` must outlive the proxy; everything runs on the loop's thread.
  TcpDelayProxy(uv_loop_t* loop, Endpoint listen, Endpoint upstream, Duration delay);
  // Closes what is still open; memory is freed when the loop next runs.
  ~TcpDelayProxy();
  TcpDelayProxy(const TcpDelayProxy&) = delete;
  TcpDelayProxy& operator=(const TcpDelayProxy&) = delete;

  Result<void, std::string> start();
  // Closes the listener and every connection; `on_closed` runs once libuv is done.
  void stop(std::function<void()> on_closed = nullptr);

  const Endpoint& local() const { return local_; }
  size_t connections() const { return pipes_.size(); }
  uint64_t accepted() const { return accepted_; }

 private:
  struct Pipe;
  struct Shared;
  void accept();
  void close_pipe(Pipe& pipe);
  static void on_connected(uv_connect_t* req, int status);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_timer(uv_timer_t* timer);
  static void pump(Pipe& pipe);

  uv_loop_t* loop_;
  Endpoint listen_;
  Endpoint upstream_;
  Duration delay_;
  Endpoint local_;
  std::shared_ptr<Shared> shared_;  // The listener and what close callbacks need.
  std::vector<Pipe*> pipes_;
  uint64_t accepted_ = 0;
  bool running_ = false;
};

}  // namespace turnscout::impair
