#include "server/core/snapshot_builder.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "base/endpoint.hpp"
#include "server/core/strategy.hpp"

namespace turnscout::server {
namespace {

// Clients are never given a wildcard address.
bool usable(const Endpoint& a) {
  return a.valid() && !is_any(a);
}

bool live(const ChildStatus& c) {
  return (c.liveness == ChildLiveness::kAlive || c.liveness == ChildLiveness::kSuspect) &&
         !c.draining;
}

bool listed(const ChildStatus& c, uint16_t overload_permille) {
  if (!live(c)) return false;
  if (c.subtree.height != 0 && c.subtree.live_leaves == 0) return false;
  return overload_permille == 0 || c.subtree.best_load_permille < overload_permille;
}

SnapshotChild snapshot_child(const ChildStatus& c) {
  SnapshotChild out;
  out.name = c.name;
  for (const Endpoint& a : c.advertised) {
    if (!usable(a)) continue;
    if (a.family == Family::kV4 && !out.v4) out.v4 = a;
    if (a.family == Family::kV6 && !out.v6) out.v6 = a;
  }
  out.leaf = c.subtree.height == 0;
  out.load_permille = c.subtree.best_load_permille;
  out.weight = c.weight;
  out.id_hash = child_id_hash(c.name);
  return out;
}

bool same_child(const SnapshotChild& a, const SnapshotChild& b) {
  return a.name == b.name && a.v4 == b.v4 && a.v6 == b.v6 && a.leaf == b.leaf &&
         a.load_permille == b.load_permille && a.weight == b.weight && a.id_hash == b.id_hash &&
         a.grand_first == b.grand_first && a.grand_count == b.grand_count &&
         a.grand_v4 == b.grand_v4;
}

bool same_listing(const ListingConfig& a, const ListingConfig& b) {
  return a.strategy == b.strategy && a.max_children == b.max_children &&
         a.overload_permille == b.overload_permille;
}

}  // namespace

BuiltSnapshot build_snapshot(const ServerConfig& config, uint16_t own_load_permille, bool draining,
                             const ChildRegistry& registry) {
  BuiltSnapshot out;
  Snapshot& s = out.snapshot;
  s.node_name = config.name;
  s.draining = draining;
  s.services = config.services;
  s.listing = config.listing;

  const bool has_services = !config.services.empty();
  uint64_t leaves = has_services ? 1 : 0;
  uint32_t best = has_services ? own_load_permille : std::numeric_limits<uint32_t>::max();
  uint16_t max_height = 0;
  bool any_live = false;
  s.accepts_strangers = registry.policy().accept_dynamic && registry.policy().authenticated;
  s.cluster_key = config.cluster.key;
  s.accept_key = config.cluster.accept_key;
  s.replay_window = config.heartbeat.replay_window;
  std::vector<std::pair<Endpoint, std::string>> sources;
  for (const ParentConfig& parent : config.parents)
    s.parent_sources.push_back(unmap_v4(parent.address));
  std::sort(s.parent_sources.begin(), s.parent_sources.end());
  // Sized once: growing by doubling would hold up to twice the children, for every snapshot
  // a parent keeps (the one published and the one being built).
  s.children.reserve(registry.size());
  sources.reserve(registry.size());
  s.child_sources.reserve(registry.size());
  s.child_source_names.reserve(registry.size());
  registry.for_each([&](const ChildStatus& c) {
    if (c.source.valid()) sources.emplace_back(unmap_v4(c.source), c.name);
    if (live(c) && (c.subtree.height == 0 || c.subtree.live_leaves > 0)) {
      any_live = true;
      leaves += c.subtree.live_leaves;
      best = std::min<uint32_t>(best, c.subtree.best_load_permille);
      max_height = std::max(max_height, c.subtree.height);
    }
    const bool addressable = std::any_of(c.advertised.begin(), c.advertised.end(), usable);
    if (addressable && listed(c, config.listing.overload_permille)) {
      SnapshotChild& child = s.children.emplace_back(snapshot_child(c));
      if (config.listing.grandchildren && c.subtree.height != 0) {
        child.grand_first = static_cast<uint32_t>(s.grandchildren.size());
        for (const Family family : {Family::kV4, Family::kV6}) {
          for (const proto::ChildEntry& entry : c.listing) {
            const Endpoint& a = entry.address;
            if (a.family == family && usable(a) && a.port != 0) s.grandchildren.push_back(entry);
          }
          if (family == Family::kV4) {
            child.grand_v4 = static_cast<uint16_t>(s.grandchildren.size() - child.grand_first);
          }
        }
        child.grand_count = static_cast<uint16_t>(s.grandchildren.size() - child.grand_first);
      }
    }
  });
  std::sort(s.children.begin(), s.children.end(),
            [](const SnapshotChild& a, const SnapshotChild& b) { return a.name < b.name; });
  s.index = index_listing(s.children, s.listing.strategy, s.listing.overload_permille);
  std::sort(sources.begin(), sources.end());
  for (auto& [source, name] : sources) {
    if (!s.child_sources.empty() && s.child_sources.back() == source) {
      if (s.child_source_names.back() != name) s.child_source_names.back().clear();
      continue;
    }
    s.child_sources.push_back(source);
    s.child_source_names.push_back(std::move(name));
  }

  proto::Subtree& t = out.subtree;
  t.live_leaves = static_cast<uint32_t>(std::min<uint64_t>(leaves, UINT32_MAX));
  t.best_load_permille = leaves > 0 ? static_cast<uint16_t>(best) : own_load_permille;
  const bool branch = any_live || !has_services;
  t.height = branch ? static_cast<uint16_t>(std::min<uint32_t>(max_height + 1u, UINT16_MAX)) : 0;

  // LOAD tells a client how good a way through this node is: the best of what the reply
  // can offer (its listed children, and itself when it has services), not a child it
  // cannot list. With nothing to offer, the subtree's best (an overloaded subtree's high
  // load) or its own.
  uint32_t offered = has_services ? own_load_permille : std::numeric_limits<uint32_t>::max();
  for (const SnapshotChild& child : s.children)
    offered = std::min<uint32_t>(offered, child.load_permille);
  s.load.load_permille =
      offered <= UINT16_MAX ? static_cast<uint16_t>(offered) : t.best_load_permille;
  s.load.overload_limit_permille = config.listing.overload_permille;
  return out;
}

bool same_content(const Snapshot& a, const Snapshot& b) {
  return a.node_name == b.node_name && a.load == b.load && a.draining == b.draining &&
         a.services == b.services && same_listing(a.listing, b.listing) &&
         a.child_sources == b.child_sources && a.accepts_strangers == b.accepts_strangers &&
         a.child_source_names == b.child_source_names && a.cluster_key == b.cluster_key &&
         a.accept_key == b.accept_key && a.replay_window == b.replay_window &&
         a.parent_sources == b.parent_sources && a.grandchildren == b.grandchildren &&
         std::equal(a.children.begin(), a.children.end(), b.children.begin(), b.children.end(),
                    same_child);
}

}  // namespace turnscout::server
