#include "proto/heartbeat.hpp"

#include "proto/field_reader.hpp"
#include "proto/message_builder.hpp"

namespace turnscout::proto {
namespace {

Result<size_t, EncodeError> seal(MessageBuilder& b, std::span<const uint8_t> key) {
  if (!key.empty()) b.add_integrity_sha256(key);
  b.add_fingerprint();
  return b.finish();
}

Result<size_t, EncodeError> encode_stamp(const NodeStamp& s, Method method, MessageClass cls,
                                         std::span<const uint8_t> key, std::span<uint8_t> out) {
  MessageBuilder b(out);
  b.start(method, cls, s.transaction_id);
  b.add_node_name(s.node_name);
  b.add_timestamp(s.timestamp_ms);
  return seal(b, key);
}

template <typename Stamp>
Result<Stamp, DecodeError> decode_stamp(const MessageView& view, Method method, MessageClass cls) {
  if (auto ok = check_message(view, method, cls); !ok) return unexpected(ok.error());
  Stamp s;
  s.transaction_id = view.transaction_id();
  s.has_integrity = view.integrity_sha256().has_value();
  FieldReader f(view);
  f.required(attr::kNodeName, s.node_name, read_node_name);
  f.required(attr::kTimestamp, s.timestamp_ms, read_timestamp);
  if (!f.ok()) return unexpected(f.error());
  return s;
}

}  // namespace

Result<size_t, EncodeError> encode_heartbeat_request(const HeartbeatRequest& r,
                                                     std::span<const uint8_t> key,
                                                     std::span<uint8_t> out) {
  if (r.advertised.empty() || r.advertised.size() > kMaxAdvertisedAddresses) {
    return unexpected(EncodeError{EncodeErrc::kValueOutOfRange, "ADVERTISED-ADDRESS"});
  }
  MessageBuilder b(out);
  b.start(Method::kHeartbeat, MessageClass::kRequest, r.transaction_id);
  b.add_node_name(r.node_name);
  for (const auto& a : r.advertised)
    b.add_advertised_address(a);
  b.add_load(r.load);
  b.add_capacity(r.capacity);
  b.add_subtree(r.subtree);
  b.add_node_state(r.state);
  b.add_weight(r.weight);
  if (r.listing.size() > kMaxHeartbeatListing) {
    return unexpected(EncodeError{EncodeErrc::kValueOutOfRange, "CHILD"});
  }
  for (const ChildEntry& child : r.listing)
    b.add_child(child);
  b.add_timestamp(r.timestamp_ms);
  return seal(b, key);
}

Result<HeartbeatRequest, DecodeError> decode_heartbeat_request(const MessageView& view) {
  if (auto ok = check_message(view, Method::kHeartbeat, MessageClass::kRequest); !ok) {
    return unexpected(ok.error());
  }
  HeartbeatRequest r;
  r.transaction_id = view.transaction_id();
  r.has_integrity = view.integrity_sha256().has_value();
  FieldReader f(view);
  f.required(attr::kNodeName, r.node_name, read_node_name);
  f.repeated(attr::kAdvertisedAddress, r.advertised, read_address);
  f.required(attr::kLoad, r.load, read_load);
  f.required(attr::kCapacity, r.capacity, read_u32);
  f.required(attr::kSubtree, r.subtree, read_subtree);
  f.required(attr::kNodeState, r.state, read_node_state);
  f.required(attr::kWeight, r.weight, read_weight);
  f.repeated(attr::kChild, r.listing, read_child);
  f.required(attr::kTimestamp, r.timestamp_ms, read_timestamp);
  if (f.ok() && r.listing.size() > kMaxHeartbeatListing) {
    f.fail(DecodeError{DecodeErrc::kBadValue,
                       static_cast<uint32_t>(view.find(attr::kChild)->offset), "CHILD"});
  }
  if (f.ok() && (r.advertised.empty() || r.advertised.size() > kMaxAdvertisedAddresses)) {
    const auto a = view.find(attr::kAdvertisedAddress);
    f.fail(DecodeError{a ? DecodeErrc::kBadValue : DecodeErrc::kMissingAttribute,
                       static_cast<uint32_t>(a ? a->offset : view.size()), "ADVERTISED-ADDRESS"});
  }
  if (!f.ok()) return unexpected(f.error());
  return r;
}

Result<size_t, EncodeError> encode_heartbeat_response(const HeartbeatResponse& response,
                                                      std::span<const uint8_t> key,
                                                      std::span<uint8_t> out) {
  return encode_stamp(response, Method::kHeartbeat, MessageClass::kSuccess, key, out);
}

Result<HeartbeatResponse, DecodeError> decode_heartbeat_response(const MessageView& view) {
  return decode_stamp<HeartbeatResponse>(view, Method::kHeartbeat, MessageClass::kSuccess);
}

Result<size_t, EncodeError> encode_leave_request(const LeaveRequest& request,
                                                 std::span<const uint8_t> key,
                                                 std::span<uint8_t> out) {
  return encode_stamp(request, Method::kLeave, MessageClass::kRequest, key, out);
}

Result<LeaveRequest, DecodeError> decode_leave_request(const MessageView& view) {
  return decode_stamp<LeaveRequest>(view, Method::kLeave, MessageClass::kRequest);
}

Result<size_t, EncodeError> encode_leave_response(const LeaveResponse& response,
                                                  std::span<const uint8_t> key,
                                                  std::span<uint8_t> out) {
  return encode_stamp(response, Method::kLeave, MessageClass::kSuccess, key, out);
}

Result<LeaveResponse, DecodeError> decode_leave_response(const MessageView& view) {
  return decode_stamp<LeaveResponse>(view, Method::kLeave, MessageClass::kSuccess);
}

}  // namespace turnscout::proto
