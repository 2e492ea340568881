// The balance server as a pure state machine (sans-I/O). It owns the child registry
// (liveness alive → suspect → dead, re-admission), the heartbeats to its parents, Leave,
// reload and drain, and publishes the Snapshot that probes are answered from. Time and
// datagrams come in as arguments; datagrams to send are polled; nothing here touches a
// socket, a clock or a thread.
//
// Control datagrams: a Heartbeat or Leave from a child is checked (heartbeat_auth.hpp, then
// the registry) and answered; a rejected one is counted as DropReason::kAuth and gets a
// 401/403/438 error response only when that is not larger than the request. Responses to
// our own heartbeats and Leaves go to the parent links. Events (the EventLog it is given):
// one line per state change (child alive/suspect/dead/left, parent up/silent/back, reload,
// drain), never per probe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"
#include "base/sans_io.hpp"
#include "proto/attributes.hpp"
#include "server/core/child_registry.hpp"
#include "server/core/config.hpp"
#include "server/core/counters.hpp"
#include "server/core/events.hpp"
#include "server/core/parent_links.hpp"
#include "server/core/responder.hpp"
#include "server/core/snapshot.hpp"

namespace turnscout::server {

class ServerCore final : public SansIoNode {
 public:
  // `wall_at_now` anchors wall time (heartbeat timestamps, token expiry) to `now`; the
  // driver may re-anchor with set_wall_time(). `seed` feeds transaction ids and the
  // strategies' randomness: tests pass a fixed seed, production one from SystemRandom.
  // `events` gets one line per state change (server/core/events.hpp) and must outlive the core.
  ServerCore(ServerConfig config, TimePoint now, WallTime wall_at_now, uint64_t seed,
             EventLog& events);
  ~ServerCore() override;

  // SansIoNode: the whole server in one object (what tests drive). Probes and Bindings go
  // to the built-in responder; the rest to on_control_datagram.
  void on_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                   std::span<const uint8_t> bytes) override;
  void on_timeout(TimePoint now) override;
  TimePoint next_timeout() const override;
  void poll_transmit(std::vector<Datagram>& out) override;

  // What the I/O layer calls for datagrams a worker's responder returned as kForward.
  void on_control_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                           std::span<const uint8_t> bytes);

  // Own load as measured by the I/O layer (host or file source); static loads need no call.
  void set_own_load(TimePoint now, uint16_t permille);
  void set_wall_time(TimePoint now, WallTime wall);

  // Applies a new config (already validated by the loader; the few checks repeated here
  // reject it, logged, and keep the old one). Children, their state and parent links that
  // still exist survive; the listen addresses are the driver's business.
  Result<void, std::string> reload(TimePoint now, ServerConfig config);
  // Sends Leave to every parent, stops answering probes. drained() turns true when every
  // parent acknowledged or the leave retries ran out.
  void start_drain(TimePoint now);
  bool drained() const;

  // The current snapshot; its version changes whenever a client could see a difference.
  const SnapshotPtr& snapshot() const;
  ProbeResponder& responder();
  const ProbeResponder& responder() const;
  const ServerConfig& config() const;
  std::vector<ChildStatus> children() const;
  std::vector<ParentStatus> parents() const;
  const WorkerCounters& control_counters() const;

  uint16_t own_load() const;
  // What this node reports to its parents about its subtree (itself included).
  proto::Subtree subtree() const;
  // Dynamic children turned away because the table was full.
  uint64_t dynamic_children_rejected() const;
  WallTime wall_time(TimePoint now) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace turnscout::server
