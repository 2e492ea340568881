// A whole deployment on one machine, on a caller's libuv loop: every node of a Topology as
// a VirtualNode on its own loopback address, each behind a UdpImpairProxy that adds the
// node's link (delay, jitter, loss) to client traffic.
//
// Wiring: a node advertises its proxy's address to its parents, so clients reach it
// through the proxy; heartbeats go straight from node socket to node socket (parents list
// their children by their real addresses), so only client ↔ node traffic is impaired —
// which is what "distance from the client" means.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/topology.hpp"
#include "cluster/virtual_node.hpp"
#include "common/clock.hpp"
#include "proto/address.hpp"
#include "proto/result.hpp"
#include "tests/impair/udp_impair_proxy.hpp"

struct uv_loop_s;
struct uv_timer_s;

namespace turnscout::cluster {

struct ClusterOptions {
  uint64_t seed = 1;  // Of every proxy's impairments and every core's randomness.
  Duration check_interval = std::chrono::milliseconds{20};  // Of the convergence check.
};

// One node as the table and the state file show it.
struct NodeView {
  std::string name;
  uint32_t depth = 0;
  std::vector<std::string> parents;
  Endpoint node;   // Its own socket: where heartbeats come from.
  Endpoint proxy;  // What it advertises: where clients reach it.
  Link link;
  uint16_t load_permille = 0;
  uint16_t overload_permille = 0;
  NodeState configured = NodeState::kActive;
  // "active", "overloaded", "draining", "drained" (Leave acknowledged).
  std::string state;
  size_t parents_seeing = 0;  // Parents that list it alive (a drained node: gone).
};

class Cluster {
 public:
  // `loop` must outlive the cluster; everything runs on the loop's thread.
  Cluster(uv_loop_s* loop, Topology topology, ClusterOptions options = {});
  // Closes what is still open; the memory of the handles is freed when the loop next runs.
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Binds every node and proxy, then starts the cores; on an error everything opened is
  // closed. `on_converged` runs once, on the loop, when converged() first holds.
  Result<void, std::string> start(std::function<void()> on_converged = nullptr);
  // Closes every node and proxy; `on_closed` runs on the loop once all are closed.
  void stop(std::function<void()> on_closed = nullptr);

  // Every active node is alive at each of its parents, which know its current subtree
  // summary (so the roots can list every branch with live leaves), and every draining
  // node has been dropped by each of them after its Leave.
  bool converged() const;
  // The parent/child pairs that are not there yet, e.g. "eu-west-1 at eu-west: suspect".
  std::vector<std::string> pending_links() const;

  const Topology& topology() const { return topology_; }
  std::vector<NodeView> nodes() const;
  // The proxy addresses of the roots: what clients bootstrap with.
  std::vector<Endpoint> root_addresses() const;
  VirtualNode& node(size_t index) { return *nodes_[index].node; }
  const impair::UdpImpairProxy& proxy(size_t index) const { return *nodes_[index].proxy; }

  // A table of the nodes for people, and the state as JSON for scripts and tests:
  // {"converged": bool, "roots": ["ip:port"], "nodes": [{"name", "depth", "parents",
  //  "node", "proxy", "delay_ms", "jitter_ms", "loss", "load", "overload", "state", "pid"}],
  //  "pid": the hosting process}; a virtual node's own "pid" is null.
  std::string table() const;
  std::string state_json() const;

 private:
  struct Running {
    std::unique_ptr<VirtualNode> node;
    std::unique_ptr<impair::UdpImpairProxy> proxy;
    bool drain_started = false;
  };

  Result<void, std::string> open_sockets();
  server::ServerConfig node_config(size_t index) const;
  // One child/parent pair as the parent sees it.
  struct LinkStatus {
    size_t child;
    size_t parent;
    bool heard;  // It has a heartbeat (or Leave) from the child.
    server::ChildLiveness liveness;
    bool current;  // The parent's copy of the child's subtree summary is the child's own.
  };
  std::vector<LinkStatus> link_states() const;
  // Active: alive at the parent; draining: Leave sent and the parent has it as left.
  bool settled(const LinkStatus& link) const;
  void check();
  std::string state_of(size_t index) const;

  uv_loop_s* loop_;
  Topology topology_;
  ClusterOptions options_;
  std::vector<Running> nodes_;
  uv_timer_s* check_timer_ = nullptr;  // Freed in its close callback.
  std::function<void()> on_converged_;
  bool converged_ = false;
  bool stopping_ = false;
  std::string key_;  // A fresh cluster key per run: heartbeats are signed as in production.
};

// Raises the soft RLIMIT_NOFILE to the hard limit (thousands of nodes need several
// descriptors each: a socket, a proxy socket and timerfd, a socket per client). Returns
// the new soft limit, or an error naming the failed call.
Result<uint64_t, std::string> raise_fd_limit();

}  // namespace turnscout::cluster
