// What the Prober shares with the discoveries it runs: its memory of servers, its rate
// limits, the injected randomness, the datagrams waiting to be sent and the counters.
// Owned by the Prober; discoveries hold a reference and never outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "base/random.hpp"
#include "base/sans_io.hpp"
#include "client/core/options.hpp"
#include "client/core/peer_table.hpp"
#include "client/core/result.hpp"
#include "client/core/send_gate.hpp"
#include "proto/constants.hpp"

namespace turnscout::client {

// Datagrams that were dropped or deferred, and why.
struct ProberCounters {
  uint64_t datagrams_in = 0;
  uint64_t not_stun = 0;      // Did not parse as a STUN message.
  uint64_t not_response = 0;  // A request or indication: nothing for a client.
  uint64_t unmatched = 0;     // No transaction of ours has that id.
  uint64_t wrong_source = 0;  // Our transaction id from another address: ignored.
  uint64_t late = 0;          // For a transaction already answered or given up.
  uint64_t probes_sent = 0;
  uint64_t bindings_sent = 0;
  uint64_t deferred = 0;  // Sends held back by a bucket (mirror or own limiter).
};

struct Shared {
  Shared(const ProberConfig& prober_config, Random& rng, TimePoint now)
      : config(prober_config), random(rng), peers(prober_config), gate(prober_config, now) {}

  const ProberConfig& config;
  Random& random;
  PeerTable peers;
  SendGate gate;
  std::vector<Datagram> outbox;
  ProberCounters counters;
};

// Per-peer errors of one discovery, at most `max` entries; the rest are only counted.
class ErrorLog {
 public:
  explicit ErrorLog(size_t max) : max_(max) {}
  void add(PeerError error) {
    if (errors_.size() < max_) {
      errors_.push_back(std::move(error));
    } else {
      ++dropped_;
    }
  }
  const std::vector<PeerError>& errors() const { return errors_; }
  size_t dropped() const { return dropped_; }

 private:
  size_t max_;
  std::vector<PeerError> errors_;
  size_t dropped_ = 0;
};

// Transaction ids are random: any 8 of their bytes hash well.
struct TransactionIdHash {
  size_t operator()(const proto::TransactionId& tid) const noexcept {
    uint64_t h = 0;
    std::memcpy(&h, tid.data(), sizeof h);
    return static_cast<size_t>(h);
  }
};

}  // namespace turnscout::client
