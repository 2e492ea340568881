#include "client/core/send_gate.hpp"

#include <algorithm>

namespace turnscout::client {
namespace {

double mirror_cost(const Mirror& mirror, RequestKind kind) {
  return kind == RequestKind::kProbe ? mirror.flow.probe_cost : mirror.flow.binding_cost;
}

double refill_per_second(const proto::FlowControl& flow) {
  return flow.refill_millitokens_per_s / 1000.0;
}

constexpr Duration kMinMirrorMargin = 1ms;
constexpr Duration kMaxMirrorMargin = 20ms;

// How long after the mirror's refill instant a request that needs the refilled tokens
// leaves. The server charges a request when it arrives, so two requests sent one refill
// apart arrive less than that apart when the second's one-way delay is the shorter one.
// The spread of that difference (two one-way delays) is about the spread of a round trip,
// so twice RTTVAR (the mean deviation of the RTT) covers most of it; with no sample yet,
// the upper bound. At least 1 ms: a path that has shown no variance still runs through
// scheduled processes that jitter by about that much. At most 20 ms and a quarter of one
// token's refill time: the margin is paid once per wait, not per request (the tokens
// earned meanwhile stay in the mirror, so the next wait is that much shorter), but it
// delays the waiting request, and a bucket whose burst is one request's cost fills during
// it and loses what it would earn.
Duration mirror_margin(const RttEstimator& rtt, double refill_per_second) {
  Duration most = kMaxMirrorMargin;
  if (refill_per_second > 0) {
    const double quarter_token_us = 0.25e6 / refill_per_second;
    if (quarter_token_us < static_cast<double>(most.count()))
      most = Duration{static_cast<Duration::rep>(quarter_token_us)};
  }
  const Duration jitter = rtt.has_sample() ? 2 * rtt.rttvar() : most;
  return std::min(std::max(jitter, kMinMirrorMargin), most);
}

// The mirror's answer for when_allowed(). Tokens the last change left are tokens the
// server has too (a burst leaves at once); a request that needs tokens earned since then
// leaves a margin after the instant the mirror earned them, whether it asks before that
// instant or inside the margin, where it would otherwise overtake the requests waiting.
TimePoint mirror_allows(TimePoint now, const PeerRecord& peer, double cost) {
  const Mirror& mirror = *peer.mirror;
  TokenBucket left = mirror.bucket;
  const TimePoint refilled = left.when_available(mirror.changed_at, cost);
  if (refilled == kNever) return kNever;
  if (refilled <= mirror.changed_at) return now;
  const Duration margin = mirror_margin(peer.rtt, left.refill_per_second());
  if (kNever - refilled <= margin) return kNever;
  return std::max(now, refilled + margin);
}

}  // namespace

SendGate::SendGate(const ProberConfig& config, TimePoint now) : per_peer_(config.per_peer) {
  if (config.global.burst > 0) global_.emplace(config.global.burst, config.global.per_second, now);
}

TimePoint SendGate::when_allowed(TimePoint now, PeerRecord& peer, RequestKind kind) {
  TimePoint at = now;
  if (peer.mirror) at = std::max(at, mirror_allows(now, peer, mirror_cost(*peer.mirror, kind)));
  if (per_peer_.burst > 0) {
    if (!peer.limiter) peer.limiter.emplace(per_peer_.burst, per_peer_.per_second, now);
    at = std::max(at, peer.limiter->when_available(now, 1));
  }
  if (global_) at = std::max(at, global_->when_available(now, 1));
  return at;
}

void SendGate::charge(TimePoint now, PeerRecord& peer, RequestKind kind) {
  if (peer.mirror) {
    peer.mirror->bucket.try_take(now, mirror_cost(*peer.mirror, kind));
    peer.mirror->changed_at = now;
  } else if (peer.unmirrored_requests < UINT32_MAX) {
    ++peer.unmirrored_requests;
  }
  if (peer.limiter) peer.limiter->try_take(now, 1);
  if (global_) global_->try_take(now, 1);
}

void SendGate::on_flow_control(TimePoint now, PeerRecord& peer, const proto::FlowControl& flow) {
  if (flow.burst_tokens == 0) {
    peer.mirror.reset();
    peer.unmirrored_requests = 0;
    return;
  }
  if (peer.mirror) {
    if (peer.mirror->flow != flow) {
      peer.mirror->bucket.reconfigure(flow.burst_tokens, refill_per_second(flow), now);
      peer.mirror->flow = flow;
      peer.mirror->changed_at = now;
    }
    return;
  }
  peer.mirror.emplace(
      Mirror{flow, TokenBucket(flow.burst_tokens, refill_per_second(flow), now), now});
  // The server charged every request it saw; assume it saw all of ours.
  const double spent = static_cast<double>(peer.unmirrored_requests) * flow.probe_cost;
  peer.mirror->bucket.try_take(now, std::min(spent, static_cast<double>(flow.burst_tokens)));
  peer.unmirrored_requests = 0;
}

}  // namespace turnscout::client
