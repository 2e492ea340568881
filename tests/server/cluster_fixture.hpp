// A cluster of ServerCore nodes and a probing client on a SimNetwork, and the 3-level tree
// most scenario tests use:
//
//   root 10.0.0.1 ── r1 10.0.1.1 ── l11 (load 500), l12 (200), l13 (300)
//                 └─ r2 10.0.2.1 ── l21 (150), l22 (400)
//
// Every link has a fixed 10 ms delay unless a test changes it.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/core/server_core.hpp"
#include "server/io/log_events.hpp"
#include "tests/server/control_test_util.hpp"
#include "tests/sim/sim_network.hpp"

namespace turnscout::server::testing {

inline const TimePoint kStart = TimePoint{} + 1000s;
inline constexpr Duration kDelay = 10ms;
inline const Endpoint kClient = Endpoint::v4(192, 0, 2, 7, 40000);

inline const Endpoint kRoot = addr(0, 1);
inline const Endpoint kR1 = addr(1, 1);
inline const Endpoint kR2 = addr(2, 1);
inline const Endpoint kL11 = addr(1, 11);
inline const Endpoint kL12 = addr(1, 12);
inline const Endpoint kL13 = addr(1, 13);
inline const Endpoint kL21 = addr(2, 21);
inline const Endpoint kL22 = addr(2, 22);

struct Cluster {
  explicit Cluster(uint64_t net_seed = 1) : client(kClient), net(net_seed, kStart) {
    client_id = net.add_node(client, {kClient});
    net.set_default_link({.delay = kDelay});
  }

  ServerCore& add(ServerConfig config) {
    const std::string name = config.name;
    const std::vector<Endpoint> listen = config.listen;
    const WallTime wall =
        kWallStart + std::chrono::duration_cast<std::chrono::milliseconds>(net.now() - kStart);
    auto core =
        std::make_unique<ServerCore>(std::move(config), net.now(), wall, ++seed, log_events());
    ServerCore& ref = *core;
    cores[name] = std::move(core);
    ids[name] = net.add_node(ref, listen);
    return ref;
  }

  ServerCore& operator[](const std::string& name) { return *cores.at(name); }
  sim::NodeId id(const std::string& name) const { return ids.at(name); }

  std::optional<ChildStatus> child(const std::string& parent, const std::string& name) {
    for (const ChildStatus& c : cores.at(parent)->children()) {
      if (c.name == name) return c;
    }
    return std::nullopt;
  }
  bool liveness_is(const std::string& parent, const std::string& name, ChildLiveness state) {
    auto c = child(parent, name);
    return c && c->heard && c->liveness == state;
  }
  // Names of the children in `parent`'s current snapshot, in snapshot order.
  std::vector<std::string> listed(const std::string& parent) {
    std::vector<std::string> out;
    for (const SnapshotChild& c : cores.at(parent)->snapshot()->children)
      out.push_back(c.name);
    return out;
  }

  // Sends one Probe and runs the network long enough for the answer; nullopt if none came.
  std::optional<ProbeClient::Reply> probe(const Endpoint& server,
                                          size_t pad_to = proto::kRecommendedRequestSize) {
    const size_t before = client.replies.size();
    client.probe(server, pad_to);
    net.kick(client_id);
    net.run_for(3 * kDelay);
    if (client.replies.size() == before) return std::nullopt;
    return client.replies.back();
  }

  // Declared before the network, so they outlive it.
  std::map<std::string, std::unique_ptr<ServerCore>> cores;
  ProbeClient client;
  sim::SimNetwork net;
  std::map<std::string, sim::NodeId> ids;
  sim::NodeId client_id = sim::kNoNode;
  uint64_t seed = 100;  // The next node's is one more.
};

struct TreeOptions {
  Strategy strategy = Strategy::kLeastLoad;
  std::string key;
  // With a key: parents accept dynamic children and list none statically.
  bool dynamic = false;

  static TreeOptions with_strategy(Strategy s) {
    TreeOptions o;
    o.strategy = s;
    return o;
  }
  static TreeOptions signed_dynamic(std::string cluster_key) {
    TreeOptions o;
    o.key = std::move(cluster_key);
    o.dynamic = true;
    return o;
  }
};

inline ServerConfig with_options(ServerConfig c, const TreeOptions& o) {
  c.listing.strategy = o.strategy;
  c.cluster.key = o.key;
  c.cluster.accept_dynamic_children = o.dynamic;
  if (o.dynamic) c.children.clear();
  return c;
}

inline void build_tree(Cluster& c, const TreeOptions& o = {}) {
  c.add(with_options(node_config("root", kRoot, {}, {{"r1", kR1, 1}, {"r2", kR2, 1}}), o));
  c.add(with_options(
      node_config("r1", kR1, {kRoot}, {{"l11", kL11, 1}, {"l12", kL12, 1}, {"l13", kL13, 1}}), o));
  c.add(with_options(node_config("r2", kR2, {kRoot}, {{"l21", kL21, 1}, {"l22", kL22, 1}}), o));
  c.add(with_options(leaf_config("l11", kL11, {kR1}, 500), o));
  c.add(with_options(leaf_config("l12", kL12, {kR1}, 200), o));
  c.add(with_options(leaf_config("l13", kL13, {kR1}, 300), o));
  c.add(with_options(leaf_config("l21", kL21, {kR2}, 150), o));
  c.add(with_options(leaf_config("l22", kL22, {kR2}, 400), o));
}

// Every child alive at its parent and the root listing both regions.
inline bool converged(Cluster& c) {
  const std::map<std::string, std::vector<std::string>> tree = {
      {"root", {"r1", "r2"}}, {"r1", {"l11", "l12", "l13"}}, {"r2", {"l21", "l22"}}};
  for (const auto& [parent, children] : tree) {
    for (const std::string& child : children) {
      if (!c.liveness_is(parent, child, ChildLiveness::kAlive)) return false;
    }
  }
  return c.listed("root").size() == 2;
}

}  // namespace turnscout::server::testing
