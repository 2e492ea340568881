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

}  // namespace

SendGate::SendGate(const ProberConfig& config, TimePoint now) : per_peer_(config.per_peer) {
  if (config.global.burst > 0) global_.emplace(config.global.burst, config.global.per_second, now);
}

TimePoint SendGate::when_allowed(TimePoint now, PeerRecord& peer, RequestKind kind) {
  TimePoint at = now;
  if (peer.mirror) {
    at = std::max(at, peer.mirror->bucket.when_available(now, mirror_cost(*peer.mirror, kind)));
  }
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
    }
    return;
  }
  peer.mirror.emplace(Mirror{flow, TokenBucket(flow.burst_tokens, refill_per_second(flow), now)});
  // The server charged every request it saw; assume it saw all of ours.
  const double spent = static_cast<double>(peer.unmirrored_requests) * flow.probe_cost;
  peer.mirror->bucket.try_take(now, std::min(spent, static_cast<double>(flow.burst_tokens)));
  peer.unmirrored_requests = 0;
}

}  // namespace turnscout::client
