#include "proto/attributes.hpp"

#include <algorithm>
#include <cassert>

#include "proto/byte_order.hpp"

namespace turnscout::proto {
namespace {

DecodeError fail(DecodeErrc code, size_t offset, const char* where) {
  return DecodeError{code, static_cast<uint32_t>(offset), where};
}

Unexpected<DecodeError> bad_length(const Attribute& a) {
  return unexpected(fail(DecodeErrc::kBadAttributeLength, a.offset, attribute_name(a.type)));
}

// Offset in the message of byte `i` of the attribute's value.
size_t field(const Attribute& a, size_t i) {
  return a.offset + 4 + i;
}

Result<Family, DecodeError> read_family(const Attribute& a, uint8_t wire, size_t at,
                                        const char* where) {
  if (wire == static_cast<uint8_t>(Family::kV4)) return Family::kV4;
  if (wire == static_cast<uint8_t>(Family::kV6)) return Family::kV6;
  return unexpected(fail(DecodeErrc::kBadValue, field(a, at), where));
}

const char* family_field(uint16_t type) {
  switch (type) {
    case attr::kMappedAddress:
      return "MAPPED-ADDRESS.family";
    case attr::kXorMappedAddress:
      return "XOR-MAPPED-ADDRESS.family";
    case attr::kAdvertisedAddress:
      return "ADVERTISED-ADDRESS.family";
    default:
      return "address.family";
  }
}

// Shared by the address attributes: u8 reserved, u8 family, u16 port, 4 or 16 address bytes.
Result<Endpoint, DecodeError> read_any_address(const Attribute& a) {
  if (a.value.size() < 4) return bad_length(a);
  auto family = read_family(a, a.value[1], 1, family_field(a.type));
  if (!family) return unexpected(family.error());
  Endpoint e;
  e.family = *family;
  if (a.value.size() != 4 + e.ip_size()) return bad_length(a);
  e.port = load_u16(a.value.data() + 2);
  std::copy_n(a.value.data() + 4, e.ip_size(), e.ip.begin());
  return e;
}

// XOR-MAPPED-ADDRESS mask: the cookie, then the transaction id (RFC 8489 §14.2).
std::array<uint8_t, 16> xor_mask(const TransactionId& tid) {
  std::array<uint8_t, 16> mask{};
  store_u32(mask.data(), kMagicCookie);
  std::copy(tid.begin(), tid.end(), mask.begin() + 4);
  return mask;
}

Result<uint32_t, DecodeError> read_fixed_u32(const Attribute& a) {
  if (a.value.size() != 4) return bad_length(a);
  return load_u32(a.value.data());
}

bool node_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string_view as_text(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

size_t address_value_size(const Endpoint& e) {
  return e.valid() ? 4 + e.ip_size() : 0;
}
size_t child_value_size(const Endpoint& e) {
  return e.valid() ? 8 + e.ip_size() : 0;
}

const char* attribute_name(uint16_t type) {
  switch (type) {
    case attr::kMappedAddress:
      return "MAPPED-ADDRESS";
    case attr::kUsername:
      return "USERNAME";
    case attr::kMessageIntegrity:
      return "MESSAGE-INTEGRITY";
    case attr::kErrorCode:
      return "ERROR-CODE";
    case attr::kUnknownAttributes:
      return "UNKNOWN-ATTRIBUTES";
    case attr::kMessageIntegritySha256:
      return "MESSAGE-INTEGRITY-SHA256";
    case attr::kXorMappedAddress:
      return "XOR-MAPPED-ADDRESS";
    case attr::kPadding:
      return "PADDING";
    case attr::kSoftware:
      return "SOFTWARE";
    case attr::kFingerprint:
      return "FINGERPRINT";
    case attr::kNodeName:
      return "NODE-NAME";
    case attr::kLoad:
      return "LOAD";
    case attr::kChild:
      return "CHILD";
    case attr::kService:
      return "SERVICE";
    case attr::kFlowControl:
      return "FLOW-CONTROL";
    case attr::kReplyFlags:
      return "REPLY-FLAGS";
    case attr::kChildrenWanted:
      return "CHILDREN-WANTED";
    case attr::kDepthWanted:
      return "DEPTH-WANTED";
    case attr::kGrandchild:
      return "GRANDCHILD";
    case attr::kCapacityToken:
      return "CAPACITY-TOKEN";
    case attr::kAdvertisedAddress:
      return "ADVERTISED-ADDRESS";
    case attr::kCapacity:
      return "CAPACITY";
    case attr::kSubtree:
      return "SUBTREE";
    case attr::kNodeState:
      return "NODE-STATE";
    case attr::kTimestamp:
      return "TIMESTAMP";
    case attr::kWeight:
      return "WEIGHT";
    default:
      return "attribute";
  }
}

bool valid_node_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxNodeNameSize &&
         std::all_of(name.begin(), name.end(), node_name_char);
}

bool valid_service_text(std::string_view service) {
  return !service.empty() && service.size() <= kMaxServiceSize &&
         std::none_of(service.begin(), service.end(), [](char c) {
           const auto b = static_cast<uint8_t>(c);
           return b <= 0x20 || b == 0x7F;
         });
}

Result<Endpoint, DecodeError> read_address(const Attribute& a) {
  return read_any_address(a);
}

Result<Endpoint, DecodeError> read_xor_address(const Attribute& a, const TransactionId& tid) {
  auto e = read_any_address(a);
  if (!e) return e;
  const auto mask = xor_mask(tid);
  e->port = static_cast<uint16_t>(e->port ^ (kMagicCookie >> 16));
  for (size_t i = 0; i < e->ip_size(); ++i)
    e->ip[i] ^= mask[i];
  return e;
}

Result<std::string_view, DecodeError> read_node_name(const Attribute& a) {
  const auto name = as_text(a.value);
  if (name.empty() || name.size() > kMaxNodeNameSize) return bad_length(a);
  if (!valid_node_name(name))
    return unexpected(fail(DecodeErrc::kBadValue, field(a, 0), "NODE-NAME"));
  return name;
}

Result<Load, DecodeError> read_load(const Attribute& a) {
  if (a.value.size() != kLoadSize) return bad_length(a);
  return Load{load_u16(a.value.data()), load_u16(a.value.data() + 2)};
}

Result<ChildEntry, DecodeError> read_child(const Attribute& a) {
  if (a.value.size() < 8) return bad_length(a);
  auto family = read_family(a, a.value[0], 0, "CHILD.family");
  if (!family) return unexpected(family.error());
  ChildEntry c;
  c.address.family = *family;
  if (a.value.size() != 8 + c.address.ip_size()) return bad_length(a);
  c.leaf = (a.value[1] & 0x01) != 0;  // Other flag bits are reserved and ignored.
  c.address.port = load_u16(a.value.data() + 2);
  c.load_permille = load_u16(a.value.data() + 4);
  c.weight = load_u16(a.value.data() + 6);
  std::copy_n(a.value.data() + 8, c.address.ip_size(), c.address.ip.begin());
  return c;
}

Result<std::string_view, DecodeError> read_service(const Attribute& a) {
  const auto text = as_text(a.value);
  if (text.empty() || text.size() > kMaxServiceSize) return bad_length(a);
  if (!valid_service_text(text))
    return unexpected(fail(DecodeErrc::kBadValue, field(a, 0), "SERVICE"));
  return text;
}

Result<FlowControl, DecodeError> read_flow_control(const Attribute& a) {
  if (a.value.size() != kFlowControlSize) return bad_length(a);
  const uint8_t* p = a.value.data();
  return FlowControl{load_u32(p), load_u32(p + 4), load_u16(p + 8), load_u16(p + 10), p[12]};
}

Result<uint32_t, DecodeError> read_u32(const Attribute& a) {
  return read_fixed_u32(a);
}

Result<uint16_t, DecodeError> read_children_wanted(const Attribute& a) {
  auto v = read_fixed_u32(a);
  if (!v) return unexpected(v.error());
  return static_cast<uint16_t>(*v >> 16);
}

Result<uint8_t, DecodeError> read_depth_wanted(const Attribute& a) {
  auto v = read_fixed_u32(a);
  if (!v) return unexpected(v.error());
  return static_cast<uint8_t>(*v >> 24);
}

Result<std::span<const uint8_t>, DecodeError> read_capacity_token(const Attribute& a) {
  if (a.value.empty() || a.value.size() > kMaxCapacityTokenSize) return bad_length(a);
  return a.value;
}

Result<Subtree, DecodeError> read_subtree(const Attribute& a) {
  if (a.value.size() != kSubtreeSize) return bad_length(a);
  const uint8_t* p = a.value.data();
  return Subtree{load_u32(p), load_u16(p + 4), load_u16(p + 6)};
}

Result<NodeState, DecodeError> read_node_state(const Attribute& a) {
  auto v = read_fixed_u32(a);
  if (!v) return unexpected(v.error());
  const auto state = a.value[0];
  if (state > static_cast<uint8_t>(NodeState::kDraining)) {
    return unexpected(fail(DecodeErrc::kBadValue, field(a, 0), "NODE-STATE.state"));
  }
  return static_cast<NodeState>(state);
}

Result<uint64_t, DecodeError> read_timestamp(const Attribute& a) {
  if (a.value.size() != kTimestampSize) return bad_length(a);
  return load_u64(a.value.data());
}

Result<uint16_t, DecodeError> read_weight(const Attribute& a) {
  auto v = read_fixed_u32(a);
  if (!v) return unexpected(v.error());
  const auto weight = static_cast<uint16_t>(*v >> 16);
  if (weight == 0) return unexpected(fail(DecodeErrc::kBadValue, field(a, 0), "WEIGHT.weight"));
  return weight;
}

Result<ErrorCodeValue, DecodeError> read_error_code(const Attribute& a) {
  if (a.value.size() < 4 || a.value.size() > 4 + kMaxSoftwareSize) return bad_length(a);
  const unsigned hundreds = a.value[2] & 0x07;
  const unsigned number = a.value[3];
  if (hundreds < 3 || hundreds > 6 || number > 99) {
    return unexpected(fail(DecodeErrc::kBadValue, field(a, 2), "ERROR-CODE.code"));
  }
  return ErrorCodeValue{static_cast<uint16_t>(hundreds * 100 + number),
                        as_text(a.value.subspan(4))};
}

Result<std::vector<uint16_t>, DecodeError> read_unknown_attributes(const Attribute& a) {
  if (a.value.size() % 2 != 0) return bad_length(a);
  std::vector<uint16_t> types(a.value.size() / 2);
  for (size_t i = 0; i < types.size(); ++i)
    types[i] = load_u16(a.value.data() + 2 * i);
  return types;
}

Result<std::string_view, DecodeError> read_software(const Attribute& a) {
  if (a.value.size() > kMaxSoftwareSize) return bad_length(a);
  return as_text(a.value);
}

void write_address(const Endpoint& e, std::span<uint8_t> out) {
  assert(out.size() == address_value_size(e));
  out[0] = 0;
  out[1] = static_cast<uint8_t>(e.family);
  store_u16(out.data() + 2, e.port);
  std::copy_n(e.ip.begin(), e.ip_size(), out.begin() + 4);
}

void write_xor_address(const Endpoint& e, const TransactionId& tid, std::span<uint8_t> out) {
  write_address(e, out);
  const auto mask = xor_mask(tid);
  store_u16(out.data() + 2, static_cast<uint16_t>(e.port ^ (kMagicCookie >> 16)));
  for (size_t i = 0; i < e.ip_size(); ++i)
    out[4 + i] ^= mask[i];
}

void write_load(const Load& v, std::span<uint8_t> out) {
  assert(out.size() == kLoadSize);
  store_u16(out.data(), v.load_permille);
  store_u16(out.data() + 2, v.overload_limit_permille);
}

void write_child(const ChildEntry& v, std::span<uint8_t> out) {
  assert(out.size() == child_value_size(v.address));
  out[0] = static_cast<uint8_t>(v.address.family);
  out[1] = v.leaf ? 0x01 : 0x00;
  store_u16(out.data() + 2, v.address.port);
  store_u16(out.data() + 4, v.load_permille);
  store_u16(out.data() + 6, v.weight);
  std::copy_n(v.address.ip.begin(), v.address.ip_size(), out.begin() + 8);
}

void write_flow_control(const FlowControl& v, std::span<uint8_t> out) {
  assert(out.size() == kFlowControlSize);
  store_u32(out.data(), v.burst_tokens);
  store_u32(out.data() + 4, v.refill_millitokens_per_s);
  store_u16(out.data() + 8, v.probe_cost);
  store_u16(out.data() + 10, v.binding_cost);
  out[12] = v.tier;
  std::fill(out.begin() + 13, out.end(), uint8_t{0});
}

void write_subtree(const Subtree& v, std::span<uint8_t> out) {
  assert(out.size() == kSubtreeSize);
  store_u32(out.data(), v.live_leaves);
  store_u16(out.data() + 4, v.best_load_permille);
  store_u16(out.data() + 6, v.height);
}

void write_error_code(uint16_t code, std::string_view reason, std::span<uint8_t> out) {
  assert(out.size() == 4 + reason.size());
  out[0] = 0;
  out[1] = 0;
  out[2] = static_cast<uint8_t>(code / 100);
  out[3] = static_cast<uint8_t>(code % 100);
  std::copy(reason.begin(), reason.end(), out.begin() + 4);
}

}  // namespace turnscout::proto
