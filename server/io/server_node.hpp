// One balance server on a caller's libuv loop: its ServerCore, the UDP ports of its listen
// addresses answered by the same DataPlane as every worker (batched receive, sendmmsg, the
// responder on the snapshot), its TCP and TLS listeners (StreamListener, answered by the
// same responder), and the core's timer. turnscout-server's worker 0 is one
// (ControlPlane adds threads, signals, the load source and metrics around it), and so is
// every virtual node of `turnscout cluster`, so tests through a cluster run the server's
// real I/O. The callbacks only move bytes and time into the core and out again.
//
// Lifetime: close() may be followed at once by destruction; the handles' memory is freed
// when the loop next runs their close callbacks.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"
#include "common/udp_socket.hpp"
#include "server/core/config.hpp"
#include "server/core/events.hpp"
#include "server/core/server_core.hpp"
#include "server/core/snapshot.hpp"
#include "server/core/stream_table.hpp"
#include "server/io/data_plane.hpp"
#include "server/io/io_counters.hpp"
#include "server/io/stream_listener.hpp"

namespace turnscout::server {

class ServerNode final : public ControlSink {
 public:
  // `loop`, `clock` and `events` must outlive the node; everything runs on the loop's thread.
  ServerNode(uv_loop_t* loop, const Clock& clock, EventLog& events);
  ~ServerNode() override;
  ServerNode(const ServerNode&) = delete;
  ServerNode& operator=(const ServerNode&) = delete;

  // Opens one socket per address (port 0: a free one), and with `tcp` a TCP socket on the
  // same address and port (config.streams.tcp); nothing is read until start(). Returns the
  // bound UDP addresses, in order.
  Result<std::vector<Endpoint>, std::string> bind(std::span<const Endpoint> listen,
                                                  UdpSocketOptions options, bool tcp = true);
  // Creates the core from `config` (its listen addresses take the bound ports, see
  // bound_config.hpp) and starts answering. Once, after bind().
  Result<void, std::string> start(const ServerConfig& config, uint64_t seed);
  // Stops the timer and closes the ports; `on_closed` runs from the loop once libuv is done
  // with them (the node itself may be gone by then). The core stays readable.
  void close(std::function<void()> on_closed = {});

  const std::vector<Endpoint>& bound() const { return bound_; }
  // Where TCP and TLS are served, once started (config.streams).
  const std::vector<Endpoint>& tcp_bound() const { return tcp_bound_; }
  const std::vector<Endpoint>& tls_bound() const { return tls_bound_; }
  // The TCP/TLS connection table (its counters for metrics); nullptr until started.
  const StreamTable* streams() const;
  // New limits for TCP and TLS connections (a reload); listen addresses stay.
  void reconfigure_streams(const StreamConfig& streams, uint8_t ipv6_prefix);
  bool started() const { return core_ != nullptr; }
  // Valid once started.
  ServerCore& core() { return *core_; }
  const ServerCore& core() const { return *core_; }
  IoCounters& io_counters() { return counters_; }
  const IoCounters& io_counters() const { return counters_; }
  const Clock& clock() const { return clock_; }

  // Called with every snapshot the core publishes after the first (other workers take it).
  void set_on_publish(std::function<void(const SnapshotPtr&)> on_publish) {
    on_publish_ = std::move(on_publish);
  }
  // Called at the end of every after_core(), whoever gave the core something (a datagram,
  // its timer, the owner): where the owner notices a finished drain. It may close the node.
  void set_after_core(std::function<void()> after) { after_core_hook_ = std::move(after); }

  // After anything the core was given, by a callback here or by the owner: sends what it
  // queued, publishes a changed snapshot, re-arms its timer, then runs the after_core hook.
  void after_core();

  // ControlSink: what the node's own ports did not answer goes straight into the core.
  bool forward(const Endpoint& local, const Endpoint& remote, std::span<const uint8_t> bytes,
               bool known) override;

 private:
  struct Handles;
  void transmit();
  void publish_snapshot();
  void arm_timer();
  void timer_fired();
  Result<void, std::string> listen_streams(const ServerConfig& config);

  uv_loop_t* loop_;
  const Clock& clock_;
  EventLog& events_;
  IoCounters counters_;
  std::vector<BoundSocket> sockets_;      // Bound, not yet handed to the data plane.
  std::vector<BoundSocket> tcp_sockets_;  // Bound, not yet listening.
  std::vector<Endpoint> bound_;
  std::vector<Endpoint> tcp_bound_;
  std::vector<Endpoint> tls_bound_;
  std::unique_ptr<ServerCore> core_;
  Handles* handles_ = nullptr;  // Freed by the loop once closed; see Handles.
  std::function<void(const SnapshotPtr&)> on_publish_;
  std::function<void()> after_core_hook_;
  std::vector<Datagram> transmit_;
  uint64_t published_version_ = 0;
};

}  // namespace turnscout::server
