// Decides when a request may leave: the mirror of the bucket the server announced (so a
// well-behaved client never sends what the server would drop), our own per-server limiter
// and our global limiter. A request that would overrun any of them waits; none is dropped
// here.
#pragma once

#include <cstdint>
#include <optional>

#include "base/clock.hpp"
#include "base/token_bucket.hpp"
#include "client/core/options.hpp"
#include "client/core/peer_table.hpp"
#include "proto/attributes.hpp"

namespace turnscout::client {

enum class RequestKind : uint8_t { kProbe, kBinding };

class SendGate {
 public:
  SendGate(const ProberConfig& config, TimePoint now);

  // The earliest time at or after `now` when a request of `kind` to `peer` passes every
  // bucket; kNever when one of them can never pass it (cost above its burst). A request
  // that needs tokens the mirror earned since its last charge leaves a margin after the
  // instant it earned them (twice the peer's RTTVAR, 1 to 20 ms, at most a quarter of one
  // token's refill time): the server charges a request when it arrives, and drops one
  // that jitter brings in early. A request the tokens left by the last charge cover (the
  // rest of a burst) is not delayed.
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
