// The child-to-parent exchanges: Heartbeat (liveness and load, every interval) and Leave
// (graceful shutdown). Both may be signed with the cluster key; decoders only report
// whether a MESSAGE-INTEGRITY-SHA256 is present, the caller verifies it with
// verify_integrity_sha256 before trusting anything in the message.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/result.hpp"
#include "proto/attributes.hpp"
#include "proto/constants.hpp"
#include "proto/errors.hpp"
#include "proto/message_view.hpp"

namespace turnscout::proto {

struct HeartbeatRequest {
  TransactionId transaction_id{};
  std::string node_name;             // The child.
  std::vector<Endpoint> advertised;  // 1..4 addresses the parent gives to clients.
  Load load;
  uint32_t capacity = 0;
  Subtree subtree;
  NodeState state = NodeState::kActive;
  uint16_t weight = 1;  // 1..65535.
  // A branch's own listing (CHILD attributes, at most kMaxHeartbeatListing): its best live
  // children, which its parent may pass on to clients as GRANDCHILD entries.
  std::vector<ChildEntry> listing;
  uint64_t timestamp_ms = 0;   // Sender's wall clock, Unix epoch.
  bool has_integrity = false;  // Set by decode; encode signs when given a key.
  friend bool operator==(const HeartbeatRequest&, const HeartbeatRequest&) = default;
};

// Heartbeat response, Leave request and Leave response carry the same fields: a node name
// (the parent in responses, the child in the request) and a timestamp (responses echo the
// request's).
struct NodeStamp {
  TransactionId transaction_id{};
  std::string node_name;
  uint64_t timestamp_ms = 0;
  bool has_integrity = false;
  friend bool operator==(const NodeStamp&, const NodeStamp&) = default;
};
struct HeartbeatResponse : NodeStamp {};
struct LeaveRequest : NodeStamp {};
struct LeaveResponse : NodeStamp {};

// An empty key means no MESSAGE-INTEGRITY-SHA256.
Result<size_t, EncodeError> encode_heartbeat_request(const HeartbeatRequest& request,
                                                     std::span<const uint8_t> key,
                                                     std::span<uint8_t> out);
Result<HeartbeatRequest, DecodeError> decode_heartbeat_request(const MessageView& view);

Result<size_t, EncodeError> encode_heartbeat_response(const HeartbeatResponse& response,
                                                      std::span<const uint8_t> key,
                                                      std::span<uint8_t> out);
Result<HeartbeatResponse, DecodeError> decode_heartbeat_response(const MessageView& view);

Result<size_t, EncodeError> encode_leave_request(const LeaveRequest& request,
                                                 std::span<const uint8_t> key,
                                                 std::span<uint8_t> out);
Result<LeaveRequest, DecodeError> decode_leave_request(const MessageView& view);

Result<size_t, EncodeError> encode_leave_response(const LeaveResponse& response,
                                                  std::span<const uint8_t> key,
                                                  std::span<uint8_t> out);
Result<LeaveResponse, DecodeError> decode_leave_response(const MessageView& view);

}  // namespace turnscout::proto
