// Probe: a client asks a balance server for its live children, its services and its load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/address.hpp"
#include "base/result.hpp"
#include "proto/attributes.hpp"
#include "proto/constants.hpp"
#include "proto/errors.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"

namespace turnscout::proto {

// Decoded on the server's hot path, so it holds views: `capacity_token` and `software`
// point into the datagram and live as long as it.
struct ProbeRequest {
  TransactionId transaction_id{};
  uint16_t children_wanted = 0;  // 0 = as many as fit (CHILDREN-WANTED omitted).
  // DEPTH-WANTED: 2 = list each child's children too (GRANDCHILD). 0 or 1 = children only
  // (the attribute is omitted); larger values are read as 2.
  uint8_t depth = 1;
  std::span<const uint8_t> capacity_token;  // Empty = none.
  std::string_view software;                // Empty = none.
  // Encode only: PADDING grows the message to at least this many bytes (rounded up to a
  // multiple of 4). Use kRecommendedRequestSize; 0 = no padding.
  size_t pad_to = 0;
};

struct ProbeResponse {
  TransactionId transaction_id{};
  Endpoint reflexive;  // The client's address as the server saw it (XOR-MAPPED-ADDRESS).
  std::string node_name;
  Load load;
  FlowControl flow_control;
  uint32_t reply_flags = 0;           // reply_flag::k*.
  std::vector<ChildEntry> children;   // In the server's order of preference.
  std::vector<std::string> services;  // TURN/STUN URIs (turn_uri.hpp parses them).
  // Each listed child's children, as far as the server knows them (DEPTH-WANTED 2), in
  // order under each child. A GRANDCHILD before any CHILD is ignored.
  std::vector<Grandchild> grandchildren;
  friend bool operator==(const ProbeResponse&, const ProbeResponse&) = default;
};

// The server's form of a Probe response: views instead of containers, nothing allocated.
struct ProbeReply {
  TransactionId transaction_id{};
  Endpoint reflexive;
  std::string_view node_name;
  Load load;
  FlowControl flow_control;
  uint32_t reply_flags = 0;  // reply_flag::kTruncated is added by the encoder when needed.
  std::span<const ChildEntry> children;
  std::span<const std::string> services;
  // In the order they should be kept when not all fit (parent indexes `children`); each is
  // written after its parent, in this order.
  std::span<const Grandchild> grandchildren{};
};

// NODE-NAME and the SERVICE attributes of a node's Probe replies, checked and encoded once:
// they are the same in every reply, so a server copies these bytes instead of checking its
// configured text again for each Probe.
class ProbeReplyText {
 public:
  // Fails, as encode_probe_reply would, on an invalid node name or service.
  static Result<ProbeReplyText, EncodeError> make(std::string_view node_name,
                                                  std::span<const std::string> services);

  const EncodedAttributes& node_name() const { return node_name_; }
  const EncodedAttributes& services() const { return services_; }

 private:
  ProbeReplyText() = default;

  EncodedAttributes node_name_;
  EncodedAttributes services_;
};

struct ProbeReplySize {
  size_t size = 0;              // Bytes written.
  size_t children_written = 0;  // A prefix of ProbeReply::children.
  size_t grandchildren_written = 0;
  bool truncated = false;
};

Result<size_t, EncodeError> encode_probe_request(const ProbeRequest& request,
                                                 std::span<uint8_t> out);
Result<ProbeRequest, DecodeError> decode_probe_request(const MessageView& view);

// Anti-amplification: writes the reply in at most `max_size` bytes (pass the request's
// size), keeping the longest prefix of the children that fits (in bytes and within
// kMaxAttributes), then the grandchildren of those children that still fit, in the order
// given, and setting the truncated flag if anything was left out. Fails with
// kBufferTooSmall if not even zero children fit.
Result<ProbeReplySize, EncodeError> encode_probe_reply(const ProbeReply& reply, size_t max_size,
                                                       std::span<uint8_t> out);
// The same bytes, with NODE-NAME and SERVICE copied from `text`: reply.node_name and
// reply.services are not read.
Result<ProbeReplySize, EncodeError> encode_probe_reply(const ProbeReply& reply,
                                                       const ProbeReplyText& text, size_t max_size,
                                                       std::span<uint8_t> out);

// Writes the whole response or fails: never truncates.
Result<size_t, EncodeError> encode_probe_response(const ProbeResponse& response,
                                                  std::span<uint8_t> out);
Result<ProbeResponse, DecodeError> decode_probe_response(const MessageView& view);

}  // namespace turnscout::proto
