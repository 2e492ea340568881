// The hot path: answers Probe and Binding requests from the current Snapshot, after
// admission control. One ProbeResponder per worker thread; it is not thread-safe and is
// only ever touched by its own thread. Heartbeat and Leave requests are screened here and
// handed back as kForward for the control core, with responses to our own heartbeats.
//
// What becomes of a datagram:
//   does not parse as STUN                      drop kMalformed
//   success or error response from a parent     kForward, `known`
//   ... from anyone else                        drop kUnexpected
//   Heartbeat or Leave request over 1500 bytes  drop kMalformed
//   ... from a child's source address           kForward, `known` (counted by the control core)
//       with a cluster key: only when its       (a repeated timestamp twice more: the network
//       timestamp is newer than the last one    may duplicate a datagram); the rest, bound to
//       passed on from that address and in the  be refused, a few per second and worker (so a
//       replay window, its NODE-NAME is that    child with a wrong key hears 401), else drop
//       child's and its integrity verifies      kAuth
//   ... from a stranger, when no stranger can   drop kAuth (no integrity check, no answer)
//       be admitted (no dynamic children)
//   ... from a stranger over its client's       drop kRateLimited (other_cost)
//       bucket or the worker's stranger budget
//   ... from any other stranger                 kForward (admission.unknown_control_rate
//                                               per second and worker, at most)
//   Probe or Binding before the first snapshot  drop kNotReady
//   Probe or Binding that fails to decode       drop kMalformed
//   ... with an unknown comprehension-required  420 error response, charged other_cost; drop
//       attribute                               kAmplification if it would outgrow the request
//   over its client's bucket                    drop kRateLimited
//   Probe                                       reply, at most the request's size (children
//                                               cut by strategy order, REPLY-FLAGS truncated;
//                                               while the node drains, REPLY-FLAGS draining);
//                                               drop kAmplification if nothing fits
//   Binding                                     XOR-MAPPED-ADDRESS (+ FINGERPRINT if asked)
//   anything else (indications, other methods)  drop kUnexpected
// Over a stream (Via::kStream) the same, except: replies may fill `out` (no "reply <= request"
// rule: the handshake proved the address), Heartbeat and Leave requests and all responses
// are dropped kUnexpected (the tree talks over UDP).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/token_bucket.hpp"
#include "proto/attributes.hpp"
#include "proto/crypto.hpp"
#include "proto/message_view.hpp"
#include "proto/probe.hpp"
#include "server/core/admission.hpp"
#include "server/core/counters.hpp"
#include "server/core/snapshot.hpp"
#include "server/core/strategy.hpp"

namespace turnscout::server {

enum class Disposition : uint8_t {
  kReply,    // `size` bytes of `out` are the answer, to be sent to the requester.
  kDrop,     // No answer; `reason` says why (already counted).
  kForward,  // Not for the hot path: give the datagram to ServerCore::on_control_datagram.
};

// How a request came: a datagram (its source address may be forged, so no reply outgrows
// it) or a TCP/TLS stream (the handshake proved the address; replies may fill `out`, and
// only Probe and Binding requests are answered).
enum class Via : uint8_t { kDatagram, kStream };

struct Outcome {
  Disposition what = Disposition::kDrop;
  size_t size = 0;
  DropReason reason = DropReason::kMalformed;
  // kForward: it comes from one of this node's children (Snapshot::child_sources), so it
  // must not wait behind strangers' datagrams.
  bool known = false;
};

// The largest Heartbeat or Leave forwarded to the control core; real ones are a few
// hundred bytes.
inline constexpr size_t kMaxControlDatagram = 1500;

class ProbeResponder {
 public:
  // `admission.token_key` verifies capacity tokens (empty: tokens are ignored, everyone is
  // free).
  ProbeResponder(const AdmissionConfig& admission, uint64_t seed);

  // Called on the responder's own thread; the pointer is kept until the next call. Sizes
  // the scratch space for the snapshot's children and encodes its node name and services,
  // so the probes that follow allocate nothing and copy that text unchecked.
  void set_snapshot(SnapshotPtr snapshot);
  void reconfigure(const AdmissionConfig& admission, TimePoint now);

  // Answers one datagram into `out` (at least 1500 bytes, reused between calls). Never
  // allocates once warm, never logs. `wall_unix_s` checks capacity-token expiry.
  Outcome handle(TimePoint now, uint64_t wall_unix_s, const Endpoint& from,
                 std::span<const uint8_t> in, std::span<uint8_t> out, Via via = Via::kDatagram);

  const WorkerCounters& counters() const { return counters_; }
  WorkerCounters& counters() { return counters_; }
  const SnapshotPtr& snapshot() const { return snapshot_; }
  const AdmissionControl& admission() const { return admission_; }

 private:
  // `room`: the most a reply may take (a datagram's own size, or all of `out`).
  Outcome handle_stream(TimePoint now, uint64_t wall_unix_s, const Endpoint& client,
                        const proto::MessageView& request, std::span<uint8_t> out);
  Outcome answer_probe(TimePoint now, uint64_t wall_unix_s, const Endpoint& client,
                       const proto::MessageView& request, std::span<uint8_t> out, size_t room);
  Outcome answer_binding(TimePoint now, uint64_t wall_unix_s, const Endpoint& client,
                         const proto::MessageView& request, std::span<uint8_t> out, size_t room);
  Outcome answer_unknown_attribute(TimePoint now, uint64_t wall_unix_s, const Endpoint& client,
                                   const proto::MessageView& request, std::span<uint8_t> out,
                                   size_t room);
  Outcome screen_control(TimePoint now, uint64_t wall_unix_s, const Endpoint& client,
                         RequestKind kind, const proto::MessageView& request);
  Outcome screen_known(TimePoint now, uint64_t wall_unix_s, size_t source, RequestKind kind,
                       const proto::MessageView& request);
  Outcome reply(size_t size);
  Outcome drop(DropReason reason);
  bool serving() const { return snapshot_ != nullptr; }

  SnapshotPtr snapshot_;
  AdmissionControl admission_;
  TokenBucket strangers_;  // Heartbeat and Leave requests from strangers, all together.
  // With a cluster key: requests from children's addresses that the control core will
  // refuse (unsigned, badly signed, replayed), all together. Real children sign with fresh
  // timestamps; these are a misconfigured child or a spoofed flood.
  TokenBucket refusals_;
  // Per entry of the snapshot's child_sources: the newest signed timestamp passed on from
  // that address, and how often a datagram with that same timestamp was passed on again.
  struct SourceStamp {
    uint64_t timestamp_ms = 0;
    uint8_t repeats = 0;
  };
  std::vector<SourceStamp> stamps_;
  // HMACs keyed with the snapshot's cluster and accept keys, and those keys.
  proto::HmacSha256 cluster_mac_;
  proto::HmacSha256 accept_mac_;
  std::array<std::string, 2> mac_keys_;
  WorkerCounters counters_;
  // Strategy state and scratch space, reused so a reply allocates nothing.
  StrategyState strategy_;
  std::vector<uint32_t> order_;
  std::vector<proto::ChildEntry> listed_;
  std::vector<proto::Grandchild> grand_;  // Scratch: the listed children's children.
  // The snapshot's NODE-NAME and SERVICE attributes; empty if they do not encode.
  std::optional<proto::ProbeReplyText> reply_text_;
};

}  // namespace turnscout::server
