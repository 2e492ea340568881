// What the prober remembers about each server across discoveries: RTT, health, last
// NODE-NAME, the mirror of the bucket it announced, and our own per-server limiter.
// Bounded: at capacity, inserting forgets the least recently used server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/ewma.hpp"
#include "base/token_bucket.hpp"
#include "client/core/health.hpp"
#include "client/core/options.hpp"
#include "proto/attributes.hpp"

namespace turnscout::client {

// The server's FLOW-CONTROL for us, and our copy of its bucket.
struct Mirror {
  proto::FlowControl flow;
  // Changed only by a charge or an announcement, at `changed_at`; read through copies, so
  // it stays as that change left it and tells when it earned a request's cost again (the
  // send gate keeps a margin after that instant).
  TokenBucket bucket;
  TimePoint changed_at;
};

struct PeerRecord {
  explicit PeerRecord(const ProberConfig& config);

  RttEstimator rtt;
  Health health;
  std::string name;  // Last NODE-NAME heard from it.
  std::optional<Mirror> mirror;
  std::optional<TokenBucket> limiter;  // ProberConfig::per_peer, created on first use.
  // Requests sent before a mirror existed: charged to the mirror when it is created.
  uint32_t unmirrored_requests = 0;
  TimePoint last_used{};
};

class PeerTable {
 public:
  explicit PeerTable(const ProberConfig& config);

  // The record of `address` (IPv4-mapped addresses share their IPv4 record), created if
  // absent. The reference is valid until the next call to touch().
  PeerRecord& touch(const Endpoint& address, TimePoint now);
  const PeerRecord* find(const Endpoint& address) const;
  PeerRecord* find(const Endpoint& address);

  size_t size() const { return records_.size(); }
  size_t capacity() const { return capacity_; }
  uint64_t evictions() const { return evictions_; }

 private:
  void evict_one();

  const ProberConfig& config_;
  size_t capacity_;
  std::unordered_map<Endpoint, PeerRecord> records_;
  uint64_t evictions_ = 0;
};

}  // namespace turnscout::client
