// A whole deployment on one machine, on a caller's libuv loop: every node of a Topology on
// its own loopback address, each behind a UdpImpairProxy that adds the node's link (delay,
// jitter, loss) to client traffic. A node runs either as a VirtualNode in this process (the
// default: thousands fit in one loop) or, in process mode, as a turnscout-server process of
// its own, which can be killed, restarted and inspected like a production server.
//
// Wiring: a node advertises its proxy's address to its parents, so clients reach it
// through the proxy; heartbeats go straight from node socket to node socket (parents list
// their children by their real addresses), so only client ↔ node traffic is impaired —
// which is what "distance from the client" means. The proxies always run in this process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"
#include "tools/cluster/metrics_poller.hpp"
#include "tools/cluster/node_process.hpp"
#include "tools/cluster/topology.hpp"
#include "tools/cluster/virtual_node.hpp"
#include "tools/impair/tcp_delay_proxy.hpp"
#include "tools/impair/udp_impair_proxy.hpp"

struct uv_loop_s;
struct uv_timer_s;

namespace turnscout::cluster {

struct ClusterOptions {
  uint64_t seed = 1;  // Of every proxy's impairments and every core's randomness.
  Duration check_interval = std::chrono::milliseconds{20};  // Of the convergence check.
  // Empty: virtual nodes. Otherwise process mode: every node is this turnscout-server
  // binary, started with a config file written into `work_dir`, its output in a log file
  // there, and a metrics endpoint the cluster reads to see the tree converge.
  std::string server_binary;
  // Process mode: where the configs and logs go (created if needed, kept). Empty: a fresh
  // temporary directory, removed once stop() has seen every process exit.
  std::string work_dir;
  // Every proxy drops every UDP datagram (clients reach the nodes over TCP only), as on a
  // network that blocks UDP. Heartbeats go between nodes directly and are not affected.
  bool block_udp = false;
  // Every node serves TLS on its TCP port with this certificate and key (PEM), as
  // tls.cert_file and tls.key_file: a client can then walk the tree over TLS. Clients reach
  // the proxies, so the certificate must name the proxies' addresses.
  std::string tls_cert_file;
  std::string tls_key_file;
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
  // "active", "overloaded", "draining", "drained" (Leave acknowledged); in process mode
  // also "exited" (its process ended, other than by draining).
  std::string state;
  size_t parents_seeing = 0;  // Parents that list it alive (a drained node: gone).
  // Process mode only (empty otherwise): what a caller needs to watch, kill or restart it.
  std::optional<int> pid;            // While its process runs.
  std::string config;                // Its config file.
  std::vector<std::string> command;  // The argv that started it.
  std::string exit;                  // How its process ended, e.g. "signal 9 (Killed)".
};

class Cluster {
 public:
  // `loop` must outlive the cluster; everything runs on the loop's thread.
  Cluster(uv_loop_s* loop, Topology topology, ClusterOptions options = {});
  // Closes what is still open; the memory of the handles is freed when the loop next runs.
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Binds every node and proxy, then starts the cores (process mode: writes the configs and
  // starts the processes); on an error everything opened is closed (processes are stopped
  // as by stop()). `on_converged` runs once, on the loop, when converged() first holds.
  Result<void, std::string> start(std::function<void()> on_converged = nullptr);
  // Runs on the loop whenever what state_json() shows changes after convergence other than
  // by stop() (a node's process ended: killed from outside, crashed, or drained).
  void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }
  // Closes every node and proxy; `on_closed` runs on the loop once all are closed. Process
  // mode: first SIGTERM to every node process (each sends Leave and exits), the deepest
  // first and their parents once they are gone, so that every Leave is acknowledged;
  // SIGKILL to any still running after kStopGrace; the proxies close once all have exited.
  // Destroying the cluster before `on_closed` ran kills (SIGKILL) what still runs; the loop
  // reaps those processes when it next runs.
  void stop(std::function<void()> on_closed = nullptr);

  static constexpr Duration kStopGrace = std::chrono::seconds{3};

  // Every active node is alive at each of its parents, which know its current subtree
  // summary (so the roots can list every branch with live leaves), and every draining
  // node has been dropped by each of them after its Leave. In process mode this is what
  // the last reading of the parents' metrics said, and a draining node's process has
  // also exited.
  bool converged() const;
  bool process_mode() const { return !options_.server_binary.empty(); }
  // The parent/child pairs that are not there yet, e.g. "eu-west-1 at eu-west: suspect".
  std::vector<std::string> pending_links() const;

  const Topology& topology() const { return topology_; }
  std::vector<NodeView> nodes() const;
  // Process mode: where the node configs and logs are.
  const std::string& work_dir() const { return work_dir_; }
  // The proxy addresses of the roots: what clients bootstrap with.
  std::vector<Endpoint> root_addresses() const;
  // Virtual mode only.
  VirtualNode& node(size_t index) { return *nodes_[index].node; }
  const impair::UdpImpairProxy& proxy(size_t index) const { return *nodes_[index].proxy; }
  const impair::TcpDelayProxy& tcp_proxy(size_t index) const { return *nodes_[index].tcp_proxy; }

  // A table of the nodes for people, and the state as JSON for scripts and tests:
  // {"converged": bool, "roots": ["ip:port"], "nodes": [{"name", "depth", "parents",
  //  "node", "proxy", "delay_ms", "jitter_ms", "loss", "load", "overload", "state", "pid",
  //  "config", "command", "exit"}], "pid": the hosting process}. A virtual node's "pid",
  //  "config", "command" and "exit" are null; a node process's "pid" is null once it ended,
  //  and its "exit" null while it runs.
  std::string table() const;
  std::string state_json() const;

 private:
  struct Running {
    Endpoint address;  // The node's own socket: the VirtualNode's, or the process's.
    std::unique_ptr<VirtualNode> node;  // Virtual mode.
    std::unique_ptr<impair::UdpImpairProxy> proxy;
    std::unique_ptr<impair::TcpDelayProxy> tcp_proxy;  // TCP to the node, same delay.
    bool drain_started = false;
    // Process mode.
    std::unique_ptr<NodeProcess> process;
    Endpoint metrics;  // Its metrics endpoint.
    std::string config_path;
    std::vector<std::string> command;
    std::optional<NodeMetrics> seen;  // The last reading of its metrics; none if it failed.
    bool drained = false;             // Draining, and every parent had it as left.
    bool terminated = false;          // SIGTERM sent (to drain it, or by stop()).
  };
  using ChildTable = std::unordered_map<std::string, server::ChildStatus>;

  Result<void, std::string> open_sockets();
  server::ServerConfig node_config(size_t index) const;
  // What each node knows of its children, by name (process mode: the last reading).
  std::vector<ChildTable> child_tables() const;
  // Closes the nodes, the proxies and the timers; `on_closed` once all are closed.
  void close_all(std::function<void()> on_closed);
  // The virtual nodes' convergence step, also run after every reading in process mode.
  void evaluate();

  // Process mode (cluster_processes.cpp).
  Result<void, std::string> open_work_dir();
  Result<Endpoint, std::string> reserve_ports(size_t index, const Endpoint& ip);
  Result<void, std::string> start_process(size_t index);
  void poll_metrics();
  void take_metrics(const std::vector<size_t>& polled, MetricsPoller::Answers answers);
  void drain_process(size_t index);
  void process_exited(size_t index, const ProcessExit& exit);
  size_t processes_running() const;
  // SIGTERM to every node process, bottom-up, and SIGKILL after kStopGrace; `then` once
  // none runs.
  void stop_processes(std::function<void()> then);
  void terminate_deepest();
  void remove_work_dir();
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
  SteadyClock clock_;  // The virtual nodes' time; declared before them, so it outlives them.
  Topology topology_;
  ClusterOptions options_;
  std::vector<Running> nodes_;
  uv_timer_s* check_timer_ = nullptr;  // Freed in its close callback.
  std::function<void()> on_converged_;
  std::function<void()> on_change_;
  bool converged_ = false;
  bool stopping_ = false;
  std::string key_;  // A fresh cluster key per run: heartbeats are signed as in production.

  // Process mode.
  std::string work_dir_;
  bool own_work_dir_ = false;  // A temporary directory of ours: removed on stop.
  std::unique_ptr<MetricsPoller> poller_;
  std::vector<uint32_t> expected_leaves_;  // expected_live_leaves(topology_).
  TimePoint last_poll_{};
  uv_timer_s* kill_timer_ = nullptr;  // SIGKILL after kStopGrace; freed in its close callback.
  bool terminating_ = false;          // SIGTERM sent to every node process.
  std::vector<std::function<void()>> after_exits_;  // What stop() runs once none runs.
};

// Raises the soft RLIMIT_NOFILE to the hard limit (thousands of nodes need several
// descriptors each: a socket, a proxy socket and timerfd, a socket per client). Returns
// the new soft limit, or an error naming the failed call.
Result<uint64_t, std::string> raise_fd_limit();

}  // namespace turnscout::cluster
