// One balance server as a virtual node on a caller's libuv loop: a server::ServerNode, the
// same core, data plane (batched receive, sendmmsg, the responder) and timer as
// turnscout-server's worker 0, on one listen address. Light enough for thousands per loop:
// no thread, no signal, no metrics endpoint, and all the ports of a loop share one receive
// buffer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"
#include "server/core/config.hpp"
#include "server/io/server_node.hpp"

struct uv_loop_s;

namespace turnscout::cluster {

class VirtualNode {
 public:
  // `loop` and `clock` must outlive the node; everything runs on the loop's thread.
  VirtualNode(uv_loop_s* loop, const Clock& clock);
  // May follow close() at once: the handles' memory is freed when the loop next runs.
  ~VirtualNode() = default;
  VirtualNode(const VirtualNode&) = delete;
  VirtualNode& operator=(const VirtualNode&) = delete;

  // Binds the socket (port 0: a free one); the node does nothing until start().
  Result<Endpoint, std::string> bind(const Endpoint& at);
  // Starts the node with `config`, whose one listen address must be the bound one (its
  // port may be 0). Once, after bind().
  Result<void, std::string> start(const server::ServerConfig& config, uint64_t seed);
  // Closes the socket and the timer; `on_closed` runs from the loop once they are closed
  // (the node may be gone by then). The core stays readable.
  void close(std::function<void()> on_closed = {}) { node_.close(std::move(on_closed)); }

  const Endpoint& local() const { return local_; }
  bool started() const { return node_.started(); }
  // Valid once started.
  server::ServerCore& core() { return node_.core(); }
  const server::ServerCore& core() const { return node_.core(); }
  const server::IoCounters& io_counters() const { return node_.io_counters(); }
  TimePoint now() const { return node_.clock().now(); }

  // For calls into the core made outside a callback (e.g. start_drain): sends what it
  // queued and re-arms the timer.
  void flush() { node_.after_core(); }

 private:
  server::ServerNode node_;
  Endpoint local_;
};

}  // namespace turnscout::cluster
