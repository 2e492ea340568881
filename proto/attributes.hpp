// Attribute values: the typed form of each attribute this protocol uses, how to read it from
// an Attribute and how to write it into the bytes reserved for it. Layouts are in
// proto/PROTOCOL.md; all integers are in network byte order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/address.hpp"
#include "base/result.hpp"
#include "proto/constants.hpp"
#include "proto/errors.hpp"
#include "proto/message_view.hpp"

namespace turnscout::proto {

// LOAD.
struct Load {
  uint16_t load_permille = 0;            // 1000 = full; may exceed 1000.
  uint16_t overload_limit_permille = 0;  // 0 = no limit.
  friend bool operator==(const Load&, const Load&) = default;
};

// One CHILD entry: a subordinate server the client may probe next.
struct ChildEntry {
  Endpoint address;
  bool leaf = false;  // Has services and no children.
  uint16_t load_permille = 0;
  uint16_t weight = 0;
  friend bool operator==(const ChildEntry&, const ChildEntry&) = default;
};

// GRANDCHILD: a child of the CHILD it follows in a Probe reply (`parent` indexes the
// reply's children).
struct Grandchild {
  uint32_t parent = 0;
  ChildEntry entry;
  friend bool operator==(const Grandchild&, const Grandchild&) = default;
};

// FLOW-CONTROL: the token bucket the server applies to this client.
struct FlowControl {
  uint32_t burst_tokens = 0;
  uint32_t refill_millitokens_per_s = 0;
  uint16_t probe_cost = 0;
  uint16_t binding_cost = 0;
  uint8_t tier = 0;  // 0 = free.
  friend bool operator==(const FlowControl&, const FlowControl&) = default;
};

// SUBTREE: what a child reports about the part of the tree below it.
struct Subtree {
  uint32_t live_leaves = 0;  // Including the node itself when it is a leaf.
  uint16_t best_load_permille = 0;
  uint16_t height = 0;  // 0 = leaf.
  friend bool operator==(const Subtree&, const Subtree&) = default;
};

enum class NodeState : uint8_t { kActive = 0, kDraining = 1 };

// ERROR-CODE; the reason refers to the message it was read from.
struct ErrorCodeValue {
  uint16_t code = 0;  // 300..699.
  std::string_view reason;
};

// Encoded value sizes.
inline constexpr size_t kLoadSize = 4;
inline constexpr size_t kFlowControlSize = 16;
inline constexpr size_t kSubtreeSize = 8;
inline constexpr size_t kU32ValueSize = 4;  // REPLY-FLAGS, CHILDREN-WANTED, NODE-STATE, ...
inline constexpr size_t kTimestampSize = 8;
inline constexpr size_t kFingerprintSize = 4;

// The size on the wire of an attribute whose value has `value_size` bytes: header + padding.
constexpr size_t attribute_size(size_t value_size) {
  return 4 + ((value_size + 3) & ~size_t{3});
}
// Value sizes that depend on the address family (0 for an invalid Endpoint).
size_t address_value_size(const Endpoint& e);  // MAPPED/XOR-MAPPED/ADVERTISED-ADDRESS.
size_t child_value_size(const Endpoint& e);

// "NODE-NAME", "0x7f01" for unknown types... Static strings, for logs and dumps.
const char* attribute_name(uint16_t type);

// Byte-level rules for the text attributes.
bool valid_node_name(std::string_view name);        // 1..64 of [A-Za-z0-9._-].
bool valid_service_text(std::string_view service);  // 1..255 bytes, no space or control byte.

// Readers. Each checks the value size and the field ranges of one attribute type.
Result<Endpoint, DecodeError> read_address(const Attribute& a);  // MAPPED- or ADVERTISED-ADDRESS.
Result<Endpoint, DecodeError> read_xor_address(const Attribute& a, const TransactionId& tid);
Result<std::string_view, DecodeError> read_node_name(const Attribute& a);
Result<Load, DecodeError> read_load(const Attribute& a);
Result<ChildEntry, DecodeError> read_child(const Attribute& a);
Result<std::string_view, DecodeError> read_service(const Attribute& a);
Result<FlowControl, DecodeError> read_flow_control(const Attribute& a);
Result<uint32_t, DecodeError> read_u32(const Attribute& a);  // REPLY-FLAGS, CAPACITY.
Result<uint16_t, DecodeError> read_children_wanted(const Attribute& a);
Result<uint8_t, DecodeError> read_depth_wanted(const Attribute& a);  // Any value; 0 means 1.
Result<std::span<const uint8_t>, DecodeError> read_capacity_token(const Attribute& a);
Result<Subtree, DecodeError> read_subtree(const Attribute& a);
Result<NodeState, DecodeError> read_node_state(const Attribute& a);
Result<uint64_t, DecodeError> read_timestamp(const Attribute& a);
Result<uint16_t, DecodeError> read_weight(const Attribute& a);
Result<ErrorCodeValue, DecodeError> read_error_code(const Attribute& a);
Result<std::vector<uint16_t>, DecodeError> read_unknown_attributes(const Attribute& a);
Result<std::string_view, DecodeError> read_software(const Attribute& a);

// Writers. `out` is exactly the value size; the caller has validated the input.
void write_address(const Endpoint& e, std::span<uint8_t> out);
void write_xor_address(const Endpoint& e, const TransactionId& tid, std::span<uint8_t> out);
void write_load(const Load& v, std::span<uint8_t> out);
void write_child(const ChildEntry& v, std::span<uint8_t> out);
void write_flow_control(const FlowControl& v, std::span<uint8_t> out);
void write_subtree(const Subtree& v, std::span<uint8_t> out);
void write_error_code(uint16_t code, std::string_view reason, std::span<uint8_t> out);

}  // namespace turnscout::proto
