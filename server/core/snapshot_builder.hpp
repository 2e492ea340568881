// Builds the Snapshot probes are answered from, and the subtree summary this node reports
// to its parents, from the config, the own load and the child registry.
//
// A child is listed when it is alive or suspect (one missed heartbeat is usually one lost
// datagram; dropping it from replies at once would make listings flap), active (not
// draining), under the overload limit, has an address, and is a leaf or has live leaves
// below it. The subtree summary counts every live, active child whatever its load, so an
// overloaded subtree still reports its (high) best load upwards.
#pragma once

#include <cstdint>

#include "proto/attributes.hpp"
#include "server/core/child_registry.hpp"
#include "server/core/config.hpp"
#include "server/core/snapshot.hpp"

namespace turnscout::server {

struct BuiltSnapshot {
  Snapshot snapshot;  // Version 0: the publisher numbers it.
  proto::Subtree subtree;
};

// A node with services counts itself as one leaf with its own load. The subtree summary's
// best load is the lowest of its live children's subtrees; with none live, its own load.
// The Probe reply's LOAD is the lowest of what the reply can offer: the listed children
// (and the node itself when it has services); with nothing listed, the subtree's best. A
// branch's own load (its CPU) is not part of it: it says nothing about the TURN servers.
BuiltSnapshot build_snapshot(const ServerConfig& config, uint16_t own_load_permille, bool draining,
                             const ChildRegistry& registry);

// Equal apart from the version.
bool same_content(const Snapshot& a, const Snapshot& b);

}  // namespace turnscout::server
