// The last good path: what a warm discovery re-checks first, and the rule that keeps it
// from flapping between two leaves of similar RTT.
#pragma once

#include <algorithm>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "client/core/result.hpp"

namespace turnscout::client {

struct LastPath {
  // The roots of the discovery that found it, sorted: the path is reused only by a
  // discovery with the same roots.
  std::vector<Endpoint> roots;
  std::vector<Hop> hops;            // Root first, leaf last; never empty.
  std::vector<Endpoint> addresses;  // Of `hops`, in their order.
  std::vector<Service> services;    // The leaf's, as last heard.
  std::vector<Service> backups;     // Reused by warm results, which probe no other leaf.
  const Hop& leaf() const { return hops.back(); }
  const Endpoint& leaf_address() const { return addresses.back(); }
};

inline std::vector<Endpoint> sorted_roots(std::vector<Endpoint> roots) {
  std::sort(roots.begin(), roots.end());
  return roots;
}

// A refresh found another leaf. It replaces the cached one only when clearly better: an
// RTT under 2/3 of the old one and at least kMinRttGain shorter.
inline constexpr Duration kMinRttGain = 10ms;
inline bool clearly_better(Duration old_rtt, Duration new_rtt) {
  return new_rtt * 3 < old_rtt * 2 && old_rtt - new_rtt >= kMinRttGain;
}

}  // namespace turnscout::client
