// Admission control after geth's LES flow control: a token bucket per client IP address
// (any port; for IPv6 per /64 by default), refilled at the rate of the client's tier,
// charged per request. The parameters are announced in every Probe reply (FLOW-CONTROL) so
// a client can mirror its bucket and never send what would be dropped.
//
// The table is bounded, and eviction never hands out credit: a new client takes the place
// of the longest-idle entry only when that entry's bucket has refilled completely (a full
// bucket is the same as a new one). While every entry is still paying back, new clients
// share one overflow bucket (8 free clients' worth), so rotating source addresses or ports
// earns a flood nothing beyond it, and memory stays bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "proto/attributes.hpp"
#include "server/core/config.hpp"

namespace turnscout::server {

// What a client is charged as: its IP address without the port (the port is the sender's
// choice), for IPv6 its /`ipv6_prefix` network (one host gets a /64 and may use all of it),
// and an IPv4-mapped IPv6 address as the IPv4 one.
Endpoint client_network(const Endpoint& client, uint8_t ipv6_prefix);

struct Admission {
  bool admitted = false;
  // What applies to this client: its tier's bucket, or all zeros (no limit) when admission
  // control is disabled.
  proto::FlowControl flow;
};

class AdmissionControl {
 public:
  // A config without tier 0 gets the default free tier (burst 20, refill 5/s). `seed` keys
  // the table's hash, so a flood of chosen source addresses cannot aim at one hash chain.
  // Capacity tokens are verified with the config's token_key and accept_token_key.
  explicit AdmissionControl(const AdmissionConfig& config, uint64_t seed = 0);
  ~AdmissionControl();
  AdmissionControl(const AdmissionControl&) = delete;
  AdmissionControl& operator=(const AdmissionControl&) = delete;

  // Charges `cost` tokens to `client`'s bucket. A valid capacity token (signed with a token
  // key, unexpired at `wall_unix_s`, for this client or any) selects its tier;
  // anything else, or a tier this node does not configure, is the free tier. The verdict on
  // the last token a client showed is remembered with its bucket, so a client that repeats
  // its token costs no HMAC; a new token is verified only when the client can pay for the
  // request or shows its first token, so a drained sender's forgeries cost no HMAC either.
  // When disabled, everything is admitted and the free tier is announced. Allocation-free
  // once the table has reached its bound (verifying a new token may allocate inside the
  // crypto library).
  Admission admit(TimePoint now, uint64_t wall_unix_s, const Endpoint& client,
                  std::span<const uint8_t> capacity_token, uint16_t cost);

  // Keeps existing buckets (the most recently used, up to the new bound), re-parameterised
  // for the new tiers; new token keys forget every token verdict.
  void reconfigure(const AdmissionConfig& config, TimePoint now);

  const AdmissionConfig& config() const;
  size_t tracked_clients() const;
  uint64_t evictions() const;
  // Requests charged to the overflow bucket because the table was full.
  uint64_t overflow_charges() const;
  // Capacity tokens verified so far: the HMACs admission has spent.
  uint64_t token_checks() const;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace turnscout::server
