// Decides when a request may leave: the mirror of the bucket the server announced (so a
// well-behaved client never sends what the server would drop), our own per-server limiter
// and our global limiter. A request that would overrun any of them waits; none is dropped
// here.
#pragma once

#include <cstdint>
#include <optional>

#include "client/core/options.hpp"
#include "client/core/peer_table.hpp"
#include "common/clock.hpp"
#include "common/token_bucket.hpp"
#include "proto/attributes.hpp"

namespace turnscout::client {

enum class RequestKind : uint8_t { kProbe, kBinding };

class SendGate {
 public:
  SendGate(const ProberConfig& config, TimePoint now);

  // The earliest time at or after `now` when a request of `kind` to `peer` passes every
  // bucket; kNever when one of them can never pass it (cost above its burst).
  TimePoint when_allowed(TimePoint now, PeerRecord& peer, RequestKind kind);
  // Charges the request to every bucket. Call when when_allowed() returned `now`.
  void charge(TimePoint now, PeerRecord& peer, RequestKind kind);

  // A reply announced `flow`. The first announcement creates the mirror, charged with the
  // requests already sent; later ones re-parameterise it. Burst 0 means the server does not
  // limit us: the mirror is dropped.
  void on_flow_control(TimePoint now, PeerRecord& peer, const proto::FlowControl& flow);

 private:
  RateLimit per_peer_;
  std::optional<TokenBucket> global_;
};

}  // namespace turnscout::client
