#include "tests/proto/golden_messages.hpp"

#include <array>
#include <string_view>

namespace turnscout::proto::golden {
namespace {

constexpr std::string_view kKey = "turnscout-example-cluster-key";

constexpr TransactionId kProbeTid{0x5c, 0x0f, 0x8e, 0x21, 0xd3, 0x47,
                                  0xaa, 0x10, 0x69, 0xb8, 0xe2, 0x04};
constexpr TransactionId kLeafTid{0x6b, 0x2d, 0x90, 0x5e, 0x11, 0xc8,
                                 0x73, 0xa4, 0x0e, 0xf5, 0x3c, 0x82};
constexpr TransactionId kHeartbeatTid{0x3e, 0x91, 0x07, 0xc4, 0x58, 0x2b,
                                      0xf0, 0x6d, 0x1a, 0x93, 0xc7, 0x5e};
constexpr TransactionId kLeaveTid{0x88, 0x14, 0xd2, 0x6f, 0x0b, 0xa9,
                                  0x37, 0xe5, 0xc0, 0x72, 0x4d, 0x19};
constexpr TransactionId kBindingTid{0x21, 0x6a, 0xf3, 0x0d, 0x9c, 0x84,
                                    0x5b, 0xe7, 0x12, 0xc6, 0xa0, 0x3f};
constexpr TransactionId kDepthTid{0x4a, 0x9e, 0x02, 0xd6, 0x71, 0xbb,
                                  0x1f, 0x58, 0xe3, 0x0c, 0x96, 0x27};
constexpr TransactionId kErrorTid{0xd7, 0x40, 0x1e, 0xb5, 0x63, 0xfa,
                                  0x29, 0x8c, 0x04, 0xe1, 0x7b, 0x96};

constexpr uint64_t kHeartbeatMs = 1767225600123;  // 2026-01-01T00:00:00.123Z
constexpr uint64_t kLeaveMs = 1767225660456;

Endpoint v6(std::array<uint8_t, 16> bytes, uint16_t port) {
  return Endpoint::v6(bytes, port);
}

// 2001:db8:10::a
constexpr std::array<uint8_t, 16> kChildV6{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x10, 0, 0,
                                           0,    0,    0,    0,    0,    0,    0, 0x0a};
// 2001:db8:beef::17
constexpr std::array<uint8_t, 16> kClientV6{0x20, 0x01, 0x0d, 0xb8, 0xbe, 0xef, 0, 0,
                                            0,    0,    0,    0,    0,    0,    0, 0x17};

const Endpoint kClientV4 = Endpoint::v4(198, 51, 100, 23, 50123);

const std::vector<ChildEntry>& branch_children() {
  static const std::vector<ChildEntry> children{
      {Endpoint::v4(192, 0, 2, 10, 3478), true, 310, 100},
      {Endpoint::v4(192, 0, 2, 11, 3478), true, 540, 100},
      {v6(kChildV6, 3478), true, 120, 50},
      {Endpoint::v4(192, 0, 2, 12, 3478), true, 900, 100},
  };
  return children;
}

FlowControl flow(uint8_t tier) {
  return FlowControl{20, 5000, 1, 1, tier};
}

template <typename T>
void add(std::vector<Encoded>& out, std::string name, const Result<T, EncodeError>& size,
         const std::array<uint8_t, 2048>& buffer) {
  size_t n = 0;
  if constexpr (std::is_same_v<T, ProbeReplySize>) {
    n = size ? size->size : 0;
  } else {
    n = size ? *size : 0;
  }
  out.push_back({std::move(name), std::vector<uint8_t>(buffer.begin(), buffer.begin() + n)});
}

}  // namespace

std::span<const uint8_t> cluster_key() {
  return {reinterpret_cast<const uint8_t*>(kKey.data()), kKey.size()};
}

CapacityToken token_fields() {
  return CapacityToken{2, kExpiry, "198.51.100.23"};
}

std::vector<uint8_t> token_bytes() {
  std::array<uint8_t, 256> buffer{};
  auto size = issue_capacity_token(token_fields(), cluster_key(), kIssuedAt, buffer);
  return size ? std::vector<uint8_t>(buffer.begin(), buffer.begin() + *size)
              : std::vector<uint8_t>{};
}

ProbeRequest probe_request() {
  static const std::vector<uint8_t> token = token_bytes();
  ProbeRequest r;
  r.transaction_id = kProbeTid;
  r.children_wanted = 8;
  r.capacity_token = token;
  r.software = "turnscout/0.1.0";
  r.pad_to = 160;
  return r;
}

ProbeReply branch_reply() {
  ProbeReply r;
  r.transaction_id = kProbeTid;
  r.reflexive = kClientV4;
  r.node_name = "eu-west";
  r.load = {420, 900};
  r.flow_control = flow(2);
  r.children = branch_children();
  return r;
}

ProbeResponse branch_response_decoded() {
  ProbeResponse r;
  r.transaction_id = kProbeTid;
  r.reflexive = kClientV4;
  r.node_name = "eu-west";
  r.load = {420, 900};
  r.flow_control = flow(2);
  r.reply_flags = reply_flag::kTruncated;
  r.children.assign(branch_children().begin(), branch_children().begin() + 3);
  return r;
}

ProbeRequest probe_request_depth() {
  ProbeRequest r;
  r.transaction_id = kDepthTid;
  r.depth = 2;
  r.pad_to = 168;
  return r;
}

ProbeResponse root_response_depth() {
  ProbeResponse r;
  r.transaction_id = kDepthTid;
  r.reflexive = kClientV4;
  r.node_name = "global";
  r.load = {200, 900};
  r.flow_control = flow(0);
  r.children = {{Endpoint::v4(192, 0, 2, 1, 3478), false, 310, 100},
                {Endpoint::v4(203, 0, 113, 1, 3478), false, 200, 100}};
  r.grandchildren = {{0, {Endpoint::v4(192, 0, 2, 10, 3478), true, 310, 100}},
                     {0, {Endpoint::v4(192, 0, 2, 11, 3478), true, 540, 100}},
                     {1, {Endpoint::v4(203, 0, 113, 10, 3478), true, 200, 100}}};
  return r;
}

ProbeReply root_reply_depth() {
  static const ProbeResponse r = root_response_depth();
  return ProbeReply{r.transaction_id, r.reflexive, r.node_name,    r.load, r.flow_control, 0,
                    r.children,       r.services,  r.grandchildren};
}

ProbeResponse leaf_response() {
  ProbeResponse r;
  r.transaction_id = kLeafTid;
  r.reflexive = v6(kClientV6, 40001);
  r.node_name = "eu-west-1a";
  r.load = {310, 950};
  r.flow_control = flow(0);
  r.services = {"turn:192.0.2.10:3478?transport=udp",
                "turns:turn-1a.example.org:5349?transport=tcp", "stun:[2001:db8:10::a]:3478"};
  return r;
}

HeartbeatRequest heartbeat_request() {
  HeartbeatRequest r;
  r.transaction_id = kHeartbeatTid;
  r.node_name = "eu-west-1a";
  r.advertised = {Endpoint::v4(192, 0, 2, 10, 3478), v6(kChildV6, 3478)};
  r.load = {310, 950};
  r.capacity = 5000;
  r.subtree = {1, 310, 0};
  r.state = NodeState::kActive;
  r.weight = 100;
  r.timestamp_ms = kHeartbeatMs;
  r.has_integrity = true;
  return r;
}

HeartbeatResponse heartbeat_response() {
  return HeartbeatResponse{{kHeartbeatTid, "eu-west", kHeartbeatMs, true}};
}

LeaveRequest leave_request() {
  return LeaveRequest{{kLeaveTid, "eu-west-1a", kLeaveMs, true}};
}

LeaveResponse leave_response() {
  return LeaveResponse{{kLeaveTid, "eu-west", kLeaveMs, true}};
}

BindingRequest binding_request() {
  return BindingRequest{kBindingTid, true};
}

BindingResponse binding_response() {
  return BindingResponse{kBindingTid, kClientV4, true};
}

ErrorResponse error_response() {
  return ErrorResponse{kErrorTid,           Method::kProbe, error_code::kUnknownAttribute,
                       "Unknown Attribute", {0x7f01},       true};
}

std::vector<Encoded> encode_all() {
  std::vector<Encoded> out;
  std::array<uint8_t, 2048> buf{};
  const auto key = cluster_key();
  add(out, "probe_request", encode_probe_request(probe_request(), buf), buf);
  const size_t request_size = out.back().bytes.size();
  add(out, "probe_response_branch", encode_probe_reply(branch_reply(), request_size, buf), buf);
  add(out, "probe_response_leaf", encode_probe_response(leaf_response(), buf), buf);
  add(out, "probe_request_depth", encode_probe_request(probe_request_depth(), buf), buf);
  add(out, "probe_response_depth", encode_probe_response(root_response_depth(), buf), buf);
  add(out, "heartbeat_request", encode_heartbeat_request(heartbeat_request(), key, buf), buf);
  add(out, "heartbeat_response", encode_heartbeat_response(heartbeat_response(), key, buf), buf);
  add(out, "leave_request", encode_leave_request(leave_request(), key, buf), buf);
  add(out, "leave_response", encode_leave_response(leave_response(), key, buf), buf);
  add(out, "binding_request", encode_binding_request(binding_request(), buf), buf);
  add(out, "binding_response", encode_binding_response(binding_response(), buf), buf);
  add(out, "error_response", encode_error_response(error_response(), buf), buf);
  return out;
}

}  // namespace turnscout::proto::golden
