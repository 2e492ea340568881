// What a Probe reply is built from: an immutable picture of this node and its listable
// children. The control core publishes a new Snapshot whenever something a client could
// see changes; workers swap their pointer on their own thread, so answering a probe takes
// no lock and allocates nothing.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/address.hpp"
#include "proto/attributes.hpp"
#include "server/core/config.hpp"

namespace turnscout::server {

// A child that may be listed: alive, active (not draining), and under the overload limit.
struct SnapshotChild {
  std::string name;
  // The addresses clients are given; the reply lists the one in the client's family when
  // there is one, else the other.
  std::optional<Endpoint> v4;
  std::optional<Endpoint> v6;
  bool leaf = false;
  uint16_t load_permille = 0;  // A branch reports the best load of its subtree.
  uint16_t weight = 1;
  uint64_t id_hash = 0;  // child_id_hash(name): rendezvous hashing for ip-hash.
  // Its own listing (its children, from its heartbeats): Snapshot::grandchildren
  // [grand_first, grand_first + grand_count), the IPv4 entries first (grand_v4 of them), so
  // a reply takes one family's run without looking at each entry.
  uint32_t grand_first = 0;
  uint16_t grand_count = 0;
  uint16_t grand_v4 = 0;
};

// FNV-1a of a child's name: the same on every node, worker and run, so a client keeps its
// child across reloads and restarts.
inline uint64_t child_id_hash(std::string_view name) {
  uint64_t h = 1469598103934665603ull;
  for (const char c : name) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// Orders kept with a snapshot so that listing children for a Probe costs O(children
// listed), not O(children): built once per snapshot by index_listing() (strategy.hpp).
// A snapshot without one (hand-built) is listed the slow way, with the same results.
struct ListingIndex {
  size_t children = 0;             // children.size() it was built for.
  uint16_t overload_permille = 0;  // The overload limit `listable` was built for.
  std::vector<uint32_t> listable;  // Indices of the listable children, snapshot order.
  // Least-load only: `listable` by (load, index).
  std::vector<uint32_t> by_load;
  // Weighted only: prefix sums of max(weight, 1) along `listable`.
  std::vector<uint64_t> weight_sums;
};

struct Snapshot {
  uint64_t version = 0;
  std::string node_name;
  proto::Load load;                   // Own load (a branch: best of its subtree) and limit.
  bool draining = false;              // While draining, replies carry the draining flag.
  std::vector<std::string> services;  // Non-empty: this node is a leaf.
  std::vector<SnapshotChild> children;
  ListingConfig listing;
  ListingIndex index;  // Of `children`, for `listing`; derived, never compared.
  // The children's listings, each child's in one run (empty unless listing.grandchildren).
  std::vector<proto::ChildEntry> grandchildren;
  // Where this node's children send their heartbeats from (every child in the registry,
  // alive or not), IPv4-mapped addresses unmapped, sorted. Their Heartbeat and Leave
  // requests skip the budget for strangers.
  std::vector<Endpoint> child_sources;
  // The name of the child at each of child_sources (empty when two children share the
  // address): with a key, a worker passes on from that address only requests in that name.
  std::vector<std::string> child_source_names;
  // A Heartbeat from a stranger may be accepted: dynamic children (which need a key) are
  // on. Otherwise the responder drops strangers' Heartbeat and Leave at once.
  bool accepts_strangers = false;
  // The cluster keys (config `cluster.key`, `cluster.accept_key`): with a key, a worker
  // passes on only the child datagrams whose integrity verifies, so a flood spoofed from a
  // child's address does not take the child's place in the control core's queue.
  std::string cluster_key;
  std::string accept_key;
  Duration replay_window{};  // heartbeat.replay_window: how far a TIMESTAMP may be off.
  // The configured parents, unmapped and sorted: the only sources whose responses (to our
  // heartbeats and Leaves) are passed on.
  std::vector<Endpoint> parent_sources;

  bool knows_source(const Endpoint& source) const {
    return std::binary_search(child_sources.begin(), child_sources.end(), source);
  }
  bool knows_parent(const Endpoint& source) const {
    return std::binary_search(parent_sources.begin(), parent_sources.end(), source);
  }
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace turnscout::server
