// A topology file: a whole deployment of balance servers on one machine, for the demo, the
// end-to-end tests and local experiments. The format is documented in configs/README.md,
// section "Topology files". Loading reports every problem as "FILE:LINE:COL: message";
// nothing here throws, opens a socket or reads a clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"
#include "server/core/config.hpp"

namespace turnscout::cluster {

// The simulated network between "the client" and a node, applied one way in each
// direction: a round trip through the node's proxy costs about 2 × delay (+ jitter).
struct Link {
  Duration delay{0};
  Duration jitter{0};
  double loss = 0.0;  // Probability per datagram and direction.
};

enum class NodeState : uint8_t {
  kActive,
  // Started, then drained once its parents heard from it: it sends Leave to every parent
  // (which drop it at once) and stops answering probes (ServerCore::start_drain()).
  kDraining,
};
const char* to_string(NodeState state);

// Placeholders a service URI may contain, replaced when the cluster starts: the node's
// proxy address (what clients reach) and its own socket address.
inline constexpr std::string_view kProxyPlaceholder = "${proxy}";
inline constexpr std::string_view kNodePlaceholder = "${node}";

struct TopologyNode {
  std::string name;
  uint32_t depth = 0;            // 0 = a root (a top-level entry).
  std::vector<size_t> parents;   // Indexes into Topology::nodes: nesting parent first.
  std::vector<size_t> children;  // Every node that lists this one as a parent.
  Link link;
  NodeState state = NodeState::kActive;
  uint16_t load_permille = 0;
  uint16_t weight = 1;
  server::ListingConfig listing;
  std::vector<std::string> services;  // May hold the placeholders above.
};

struct TopologyDefaults {
  Duration heartbeat = std::chrono::seconds{1};
  uint32_t missed = 3;
  Link link;                      // For roots; other nodes inherit their nesting parent's.
  server::ListingConfig listing;  // Strategy, max_children, overload.
  bool admission = true;          // Per-client token buckets on every node.
};

struct Topology {
  std::string source;  // The file name, for messages.
  TopologyDefaults defaults;
  // Addresses are handed out in node order from these, the IPv4 address incremented per
  // node (the last byte skips 0 and 255); port 0 lets the OS choose.
  Endpoint node_base = Endpoint::v4(127, 1, 0, 1, 0);
  Endpoint proxy_base = Endpoint::v4(127, 2, 0, 1, 0);
  // Depth-first, each node before its children; roots are those of depth 0.
  std::vector<TopologyNode> nodes;

  std::optional<size_t> find(std::string_view name) const;
};

using TopologyErrors = std::vector<std::string>;

Result<Topology, TopologyErrors> load_topology_file(const std::string& path);
// As load_topology_file() for text in memory; `display_name` starts every error line.
Result<Topology, TopologyErrors> parse_topology(std::string_view yaml_text,
                                                std::string display_name);

// The `index`-th address after `base` (index 0 is `base`), skipping last bytes 0 and 255;
// nullopt past the end of the IPv4 space. IPv6 has one loopback address: `base` itself for
// ::1 (the nodes differ by port), nullopt for any other IPv6 base.
std::optional<Endpoint> nth_address(const Endpoint& base, size_t index);

// What each node reports as its live leaves once the tree has converged (the subtree
// summary of server/core/snapshot_builder.hpp): 1 if it has services, plus the count of
// each active child (a draining child has left by then). By node index.
std::vector<uint32_t> expected_live_leaves(const Topology& topology);

// `service` with the placeholders replaced.
std::string expand_service(std::string_view service, const Endpoint& proxy, const Endpoint& node);

}  // namespace turnscout::cluster
