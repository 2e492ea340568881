// One balance server as a virtual node on a caller's libuv loop: a ServerCore behind one
// UDP socket and one timer. Light enough for thousands per loop (no thread, no worker, no
// metrics endpoint); the callbacks only move bytes and time into the core and out again.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/address.hpp"
#include "base/result.hpp"
#include "server/core/server_core.hpp"

struct uv_loop_s;

namespace turnscout::cluster {

// Failures of the socket itself; what the core did is in its counters.
struct NodeIoCounters {
  uint64_t received = 0;
  uint64_t receive_errors = 0;
  uint64_t truncated = 0;
  uint64_t sent = 0;
  uint64_t send_errors = 0;  // The kernel refused a datagram (full buffer, unreachable).
};

class VirtualNode {
 public:
  // `loop` must outlive the node; everything runs on the loop's thread.
  explicit VirtualNode(uv_loop_s* loop);
  // Closes what is still open; the handles' memory is freed when the loop next runs.
  ~VirtualNode();
  VirtualNode(const VirtualNode&) = delete;
  VirtualNode& operator=(const VirtualNode&) = delete;

  // Binds the socket (port 0: a free one); the node does nothing until start().
  Result<Endpoint, std::string> bind(const Endpoint& at);
  // Hands the node its core (whose listen address must be local()) and starts receiving
  // and the timer. Once, after bind().
  Result<void, std::string> start(std::unique_ptr<server::ServerCore> core);
  // Closes the socket and the timer; the core stays readable.
  void close();

  const Endpoint& local() const { return local_; }
  bool started() const { return core_ != nullptr; }
  // Valid once started.
  server::ServerCore& core() { return *core_; }
  const server::ServerCore& core() const { return *core_; }
  const NodeIoCounters& io_counters() const { return io_; }

  // For calls into the core made outside a callback (e.g. start_drain): sends what it
  // queued and re-arms the timer.
  void flush();

 private:
  struct Handles;
  struct Callbacks;
  friend struct Callbacks;

  void receive(const Endpoint& from, const uint8_t* data, size_t size);
  void timer_fired();

  uv_loop_s* loop_;
  Handles* handles_ = nullptr;  // Owned by the loop once closing; see Handles.
  Endpoint local_;
  std::unique_ptr<server::ServerCore> core_;
  NodeIoCounters io_;
  std::vector<Datagram> outbox_;  // Reused between calls.
};

}  // namespace turnscout::cluster
