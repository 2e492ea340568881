#include "client/core/peer_table.hpp"

#include <algorithm>

#include "base/endpoint.hpp"

namespace turnscout::client {

PeerRecord::PeerRecord(const ProberConfig& config)
    : rtt(RttEstimatorConfig{config.rto.initial, config.rto.min, config.rto.max, 1ms}),
      health(config.health) {}

PeerTable::PeerTable(const ProberConfig& config)
    : config_(config), capacity_(std::max<size_t>(config.max_peers, 1)) {}

PeerRecord& PeerTable::touch(const Endpoint& address, TimePoint now) {
  const Endpoint key = unmap_v4(address);
  auto it = records_.find(key);
  if (it == records_.end()) {
    if (records_.size() >= capacity_) evict_one();
    it = records_.emplace(key, PeerRecord(config_)).first;
  }
  it->second.last_used = std::max(it->second.last_used, now);
  return it->second;
}

const PeerRecord* PeerTable::find(const Endpoint& address) const {
  auto it = records_.find(unmap_v4(address));
  return it == records_.end() ? nullptr : &it->second;
}

PeerRecord* PeerTable::find(const Endpoint& address) {
  auto it = records_.find(unmap_v4(address));
  return it == records_.end() ? nullptr : &it->second;
}

// A linear scan: it runs only when a new server is met with the table full.
void PeerTable::evict_one() {
  auto oldest = std::min_element(
      records_.begin(), records_.end(),
      [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
  if (oldest == records_.end()) return;
  records_.erase(oldest);
  ++evictions_;
}

}  // namespace turnscout::client
