#include "server/core/responder.hpp"

#include <algorithm>
#include <span>
#include <utility>

#include "base/bytes.hpp"
#include "base/endpoint.hpp"
#include "proto/binding.hpp"
#include "proto/error_response.hpp"
#include "proto/probe.hpp"

namespace turnscout::server {
namespace {

constexpr uint64_t kStrategySeedSalt = 0x7374726174656779ull;

bool unknown_attribute(const proto::DecodeError& error) {
  return error.code == proto::DecodeErrc::kUnknownRequiredAttribute;
}

// The child's address in the client's family when it has one, else the other. Fills the
// entry in place: building it on the stack and copying it costs a store-forwarding stall.
void fill_entry(const SnapshotChild& child, Family client_family, proto::ChildEntry& entry) {
  const bool v6 = client_family == Family::kV6 ? child.v6.has_value() : !child.v4.has_value();
  entry.address = v6 ? *child.v6 : *child.v4;
  entry.leaf = child.leaf;
  entry.load_permille = child.load_permille;
  entry.weight = child.weight;
}

// The listed children's own listings, interleaved (the first of each child's, then the
// second of each, ...) so that when the room runs out every child keeps its best few. Per
// child, the entries in the client's family when it has any, else the others. At most
// kMaxAttributes entries: no reply holds more.
void list_grandchildren(const Snapshot& s, std::span<const uint32_t> order, Family client_family,
                        std::vector<proto::Grandchild>& out) {
  if (s.grandchildren.empty()) return;
  // Each child's run in the family to use: the client's when the child has any, else the
  // other (the snapshot keeps each run's IPv4 entries first).
  auto run_of = [&](const SnapshotChild& child) {
    const auto own = std::span(s.grandchildren).subspan(child.grand_first, child.grand_count);
    const size_t v4 = std::min<size_t>(child.grand_v4, own.size());
    const auto ipv4 = own.first(v4);
    const auto ipv6 = own.subspan(v4);
    if (client_family == Family::kV6) return ipv6.empty() ? ipv4 : ipv6;
    return ipv4.empty() ? ipv6 : ipv4;
  };
  for (size_t round = 0; out.size() < proto::kMaxAttributes; ++round) {
    const size_t before = out.size();
    for (size_t position = 0; position < order.size(); ++position) {
      const auto run = run_of(s.children[order[position]]);
      if (round < run.size()) out.push_back({static_cast<uint32_t>(position), run[round]});
    }
    if (out.size() == before) return;
  }
}

// One second's worth, and never below one message.
double unknown_control_burst(const AdmissionConfig& admission) {
  return std::max(admission.unknown_control_rate, 1.0);
}

// Requests from a child's address that will be refused (a bad signature, a timestamp not
// newer) and still reach the control core, which answers them: per second and worker.
constexpr double kRefusalRate = 4;
// A datagram the network duplicated: the same signed timestamp passed on again this often.
constexpr uint8_t kMaxRepeats = 2;

// The TIMESTAMP of a Heartbeat or Leave that the control core will accept as far as the
// worker can tell, cheapest checks first: a TIMESTAMP within the replay window of our
// clock (whole seconds here; the control core checks to the millisecond), the NODE-NAME of
// the child at that address, then the signature (an HMAC, with either key).
std::optional<uint64_t> acceptable_timestamp(const proto::MessageView& request,
                                             const Snapshot& snapshot, std::string_view name,
                                             uint64_t wall_unix_s, proto::HmacSha256& cluster_mac,
                                             proto::HmacSha256& accept_mac) {
  const auto stamp = request.find(proto::attr::kTimestamp);
  if (!stamp || !request.integrity_sha256()) return std::nullopt;
  const auto timestamp = proto::read_timestamp(*stamp);
  if (!timestamp) return std::nullopt;
  const auto window_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(snapshot.replay_window).count());
  const uint64_t wall_ms = wall_unix_s * 1000;
  const uint64_t skew = *timestamp > wall_ms ? *timestamp - wall_ms : wall_ms - *timestamp;
  if (skew > window_ms + 1000) return std::nullopt;
  if (!name.empty()) {
    const auto named = request.find(proto::attr::kNodeName);
    if (!named) return std::nullopt;
    const auto text = proto::read_node_name(*named);
    if (!text || *text != name) return std::nullopt;
  }
  // The MACs are keyed with snapshot.cluster_key and accept_key (set_snapshot).
  if (!proto::verify_integrity_sha256(request, cluster_mac) &&
      (snapshot.accept_key.empty() || !proto::verify_integrity_sha256(request, accept_mac))) {
    return std::nullopt;
  }
  return *timestamp;
}

// Both limits are "0 = no limit".
// The smallest CHILD attribute on the wire: 4 bytes of header and 12 of an IPv4 entry.
constexpr size_t kMinChildBytes = 16;

size_t child_limit(uint16_t configured, uint16_t wanted) {
  if (configured == 0) return wanted;
  if (wanted == 0) return configured;
  return std::min(configured, wanted);
}

}  // namespace

ProbeResponder::ProbeResponder(const AdmissionConfig& admission, uint64_t seed)
    : admission_(admission, seed),
      strangers_(unknown_control_burst(admission), admission.unknown_control_rate, TimePoint{}),
      refusals_(kRefusalRate, kRefusalRate, TimePoint{}),
      strategy_(seed ^ kStrategySeedSalt) {}

void ProbeResponder::set_snapshot(SnapshotPtr snapshot) {
  // What was passed on from each child address carries over to the new snapshot: a new
  // snapshot must not reopen the door to a replay.
  std::vector<SourceStamp> stamps(snapshot ? snapshot->child_sources.size() : 0);
  if (snapshot_ && snapshot) {
    const auto& before = snapshot_->child_sources;
    const auto& after = snapshot->child_sources;
    for (size_t i = 0; i < after.size(); ++i) {
      const auto it = std::lower_bound(before.begin(), before.end(), after[i]);
      if (it != before.end() && *it == after[i]) {
        stamps[i] = stamps_[static_cast<size_t>(it - before.begin())];
      }
    }
  }
  stamps_ = std::move(stamps);
  snapshot_ = std::move(snapshot);
  // Keyed once per key, not per heartbeat: a keyed context allocates nothing when used.
  if (snapshot_ && snapshot_->cluster_key != mac_keys_[0]) {
    mac_keys_[0] = snapshot_->cluster_key;
    cluster_mac_.set_key(bytes_of(mac_keys_[0]));
  }
  if (snapshot_ && snapshot_->accept_key != mac_keys_[1]) {
    mac_keys_[1] = snapshot_->accept_key;
    accept_mac_.set_key(bytes_of(mac_keys_[1]));
  }
  reply_text_.reset();
  if (!snapshot_) return;
  if (auto text = proto::ProbeReplyText::make(snapshot_->node_name, snapshot_->services)) {
    reply_text_ = std::move(*text);
  }
  const size_t n = snapshot_->children.size();
  order_.reserve(n);
  listed_.reserve(n);
  strategy_.keys.reserve(n);
}

void ProbeResponder::reconfigure(const AdmissionConfig& admission, TimePoint now) {
  admission_.reconfigure(admission, now);
  strangers_.reconfigure(unknown_control_burst(admission), admission.unknown_control_rate, now);
}

Outcome ProbeResponder::handle(TimePoint now, uint64_t wall_unix_s, const Endpoint& from,
                               std::span<const uint8_t> in, std::span<uint8_t> out, Via via) {
  const auto view = proto::parse_message(in);
  if (!view || !from.valid()) return drop(DropReason::kMalformed);
  const proto::MessageClass cls = view->message_class();
  if (via == Via::kStream) return handle_stream(now, wall_unix_s, unmap_v4(from), *view, out);
  if (cls == proto::MessageClass::kSuccess || cls == proto::MessageClass::kError) {
    // Answers to our heartbeats come from our parents; nobody else's are read.
    if (snapshot_ && snapshot_->knows_parent(unmap_v4(from))) {
      return Outcome{Disposition::kForward, 0, DropReason::kUnexpected, true};
    }
    return drop(DropReason::kUnexpected);
  }
  const proto::Method method = view->method();
  if (cls == proto::MessageClass::kRequest) {
    // The reflexive address of a client that reached a dual-stack socket is its IPv4 one.
    const Endpoint client = unmap_v4(from);
    switch (method) {
      case proto::Method::kProbe:
        return answer_probe(now, wall_unix_s, client, *view, out, in.size());
      case proto::Method::kBinding:
        return answer_binding(now, wall_unix_s, client, *view, out, in.size());
      case proto::Method::kHeartbeat:
        return screen_control(now, wall_unix_s, client, RequestKind::kHeartbeat, *view);
      case proto::Method::kLeave:
        return screen_control(now, wall_unix_s, client, RequestKind::kLeave, *view);
    }
  }
  counters_.request(RequestKind::kOther);
  return drop(DropReason::kUnexpected);
}

// Over a stream the handshake proved the client's address, so replies may be as large as
// `out`; heartbeats and Leaves travel over UDP only, and nothing but requests is read.
Outcome ProbeResponder::handle_stream(TimePoint now, uint64_t wall_unix_s, const Endpoint& client,
                                      const proto::MessageView& request, std::span<uint8_t> out) {
  if (request.message_class() == proto::MessageClass::kRequest) {
    switch (request.method()) {
      case proto::Method::kProbe:
        return answer_probe(now, wall_unix_s, client, request, out, out.size());
      case proto::Method::kBinding:
        return answer_binding(now, wall_unix_s, client, request, out, out.size());
      case proto::Method::kHeartbeat:
        counters_.request(RequestKind::kHeartbeat);
        return drop(DropReason::kUnexpected);
      case proto::Method::kLeave:
        counters_.request(RequestKind::kLeave);
        return drop(DropReason::kUnexpected);
    }
  }
  counters_.request(RequestKind::kOther);
  return drop(DropReason::kUnexpected);
}

Outcome ProbeResponder::answer_probe(TimePoint now, uint64_t wall_unix_s, const Endpoint& client,
                                     const proto::MessageView& request, std::span<uint8_t> out,
                                     size_t room) {
  counters_.request(RequestKind::kProbe);
  if (!serving()) return drop(DropReason::kNotReady);
  const auto probe = proto::decode_probe_request(request);
  if (!probe) {
    if (unknown_attribute(probe.error())) {
      return answer_unknown_attribute(now, wall_unix_s, client, request, out, room);
    }
    return drop(DropReason::kMalformed);
  }
  const Admission admission = admission_.admit(now, wall_unix_s, client, probe->capacity_token,
                                               admission_.config().probe_cost);
  if (!admission.admitted) return drop(DropReason::kRateLimited);

  const Snapshot& s = *snapshot_;
  // No more than fit: each CHILD takes at least 16 bytes of the room.
  const size_t most = std::max<size_t>(room / kMinChildBytes, 1);
  const size_t wanted = child_limit(s.listing.max_children, probe->children_wanted);
  order_children(s.listing.strategy, s.children, s.index, s.listing.overload_permille, client,
                 wanted == 0 ? most : std::min(wanted, most), strategy_, order_);
  listed_.clear();
  for (const uint32_t i : order_)
    fill_entry(s.children[i], client.family, listed_.emplace_back());
  grand_.clear();
  if (probe->depth >= 2) list_grandchildren(s, order_, client.family, grand_);

  // A draining node still answers, so clients learn at once to prefer another (they keep
  // it only as a last resort) instead of waiting for a reply that never comes.
  const uint32_t flags = s.draining ? proto::reply_flag::kDraining : 0;
  const proto::ProbeReply answer{request.transaction_id(),
                                 client,
                                 s.node_name,
                                 s.load,
                                 admission.flow,
                                 flags,
                                 listed_,
                                 s.services,
                                 grand_};
  // Text that does not encode (a snapshot not built from a checked config) fails the
  // checked encoder, and the probe is dropped.
  const auto written = reply_text_ ? proto::encode_probe_reply(answer, *reply_text_, room, out)
                                   : proto::encode_probe_reply(answer, room, out);
  if (!written) return drop(DropReason::kAmplification);
  if (written->truncated) counters_.truncated_replies.add();
  return reply(written->size);
}

Outcome ProbeResponder::answer_binding(TimePoint now, uint64_t wall_unix_s, const Endpoint& client,
                                       const proto::MessageView& request, std::span<uint8_t> out,
                                       size_t room) {
  counters_.request(RequestKind::kBinding);
  if (!serving()) return drop(DropReason::kNotReady);
  const auto binding = proto::decode_binding_request(request);
  if (!binding) {
    if (unknown_attribute(binding.error())) {
      return answer_unknown_attribute(now, wall_unix_s, client, request, out, room);
    }
    return drop(DropReason::kMalformed);
  }
  if (!admission_.admit(now, wall_unix_s, client, {}, admission_.config().binding_cost).admitted) {
    return drop(DropReason::kRateLimited);
  }
  // Only what RFC 8489 requires: for an IPv4 client, 32 bytes answer a 20-byte request
  // (1.6x) and 40 a 28-byte one; an IPv6 address adds 12 bytes.
  const proto::BindingResponse response{request.transaction_id(), client, binding->fingerprint};
  const auto written = proto::encode_binding_response(response, out);
  if (!written) return drop(DropReason::kAmplification);
  return reply(*written);
}

Outcome ProbeResponder::answer_unknown_attribute(TimePoint now, uint64_t wall_unix_s,
                                                 const Endpoint& client,
                                                 const proto::MessageView& request,
                                                 std::span<uint8_t> out, size_t room) {
  if (!admission_.admit(now, wall_unix_s, client, {}, admission_.config().other_cost).admitted) {
    return drop(DropReason::kRateLimited);
  }
  const auto written = proto::make_error_response(request, proto::error_code::kUnknownAttribute,
                                                  "Unknown Attribute", room, out);
  if (!written) return drop(DropReason::kAmplification);
  return reply(*written);
}

// Cheap checks before the control core verifies anything (an HMAC with a key): a child's
// own datagrams pass at once; strangers pay admission and share a budget, so a forged flood
// can neither be reflected nor crowd out the children.
Outcome ProbeResponder::screen_control(TimePoint now, uint64_t wall_unix_s, const Endpoint& client,
                                       RequestKind kind, const proto::MessageView& request) {
  const size_t size = request.size();
  if (size <= kMaxControlDatagram && snapshot_) {
    const auto& sources = snapshot_->child_sources;
    const auto it = std::lower_bound(sources.begin(), sources.end(), client);
    if (it != sources.end() && *it == client) {
      return screen_known(now, wall_unix_s, static_cast<size_t>(it - sources.begin()), kind,
                          request);
    }
  }
  counters_.request(kind);
  if (size > kMaxControlDatagram) return drop(DropReason::kMalformed);
  if (!snapshot_ || !snapshot_->accepts_strangers) return drop(DropReason::kAuth);
  if (!admission_.admit(now, wall_unix_s, client, {}, admission_.config().other_cost).admitted ||
      !strangers_.try_take(now, 1)) {
    return drop(DropReason::kRateLimited);
  }
  return Outcome{Disposition::kForward, 0, DropReason::kUnexpected, false};
}

// A child's address proves nothing (it can be spoofed), its signature does. Without a key
// the address is all there is, and everything from it is passed on.
Outcome ProbeResponder::screen_known(TimePoint now, uint64_t wall_unix_s, size_t source,
                                     RequestKind kind, const proto::MessageView& request) {
  const Outcome forward{Disposition::kForward, 0, DropReason::kUnexpected, true};
  if (snapshot_->cluster_key.empty()) return forward;
  // Only what the control core will accept moves the mark: otherwise one signed datagram
  // from anyone holding the key (or a replay of any node's heartbeat), spoofed from this
  // address with a far-future TIMESTAMP, would shut the real child out.
  SourceStamp& last = stamps_[source];
  const auto repeatable = [&](uint64_t t) {
    return t > last.timestamp_ms || (t == last.timestamp_ms && last.repeats < kMaxRepeats);
  };
  std::optional<uint64_t> claimed;
  if (const auto stamp = request.find(proto::attr::kTimestamp)) {
    if (const auto t = proto::read_timestamp(*stamp)) claimed = *t;
  }
  if (claimed && repeatable(*claimed)) {  // A free check before the HMAC.
    const auto& names = snapshot_->child_source_names;
    const std::optional<uint64_t> timestamp = acceptable_timestamp(
        request, *snapshot_, source < names.size() ? names[source] : std::string_view{},
        wall_unix_s, cluster_mac_, accept_mac_);
    if (timestamp && *timestamp > last.timestamp_ms) {
      last = SourceStamp{*timestamp, 0};
      return forward;
    }
    if (timestamp) {
      ++last.repeats;
      return forward;
    }
  }
  // Bound to be refused (401, 403 or 438). A few a second still get their answer, so a child
  // with the wrong key or a clock that went back hears why; a flood does not.
  if (refusals_.try_take(now, 1)) return forward;
  counters_.request(kind);
  return drop(DropReason::kAuth);
}

Outcome ProbeResponder::reply(size_t size) {
  counters_.reply(size);
  return Outcome{Disposition::kReply, size, DropReason::kMalformed};
}

Outcome ProbeResponder::drop(DropReason reason) {
  counters_.drop(reason);
  return Outcome{Disposition::kDrop, 0, reason};
}

}  // namespace turnscout::server
