#include "proto/message_builder.hpp"

#include <algorithm>

#include "proto/byte_order.hpp"
#include "proto/crypto.hpp"

namespace turnscout::proto {
namespace {

std::span<const uint8_t> text_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace

bool MessageBuilder::fail(EncodeErrc code, const char* where) {
  if (!error_) error_ = EncodeError{code, where};
  return false;
}

bool MessageBuilder::start(Method method, MessageClass cls, const TransactionId& tid) {
  error_.reset();
  size_ = 0;
  attributes_ = 0;
  stage_ = Stage::kIdle;
  if (static_cast<uint16_t>(method) > 0x0FFF) return fail(EncodeErrc::kValueOutOfRange, "method");
  if (out_.size() < kHeaderSize) return fail(EncodeErrc::kBufferTooSmall, "header");
  store_u16(out_.data(), message_type(method, cls));
  store_u16(out_.data() + 2, 0);
  store_u32(out_.data() + 4, kMagicCookie);
  std::copy(tid.begin(), tid.end(), out_.begin() + 8);
  size_ = kHeaderSize;
  stage_ = Stage::kOpen;
  tid_ = tid;
  return true;
}

std::optional<std::span<uint8_t>> MessageBuilder::reserve(uint16_t type, size_t value_size) {
  if (error_) return std::nullopt;
  if (stage_ != Stage::kOpen && !(stage_ == Stage::kSigned && type == attr::kFingerprint)) {
    fail(EncodeErrc::kBadState, attribute_name(type));
    return std::nullopt;
  }
  if (attributes_ == kMaxAttributes) {
    fail(EncodeErrc::kValueOutOfRange, "attribute count");
    return std::nullopt;
  }
  const size_t total = attribute_size(value_size);
  if (value_size > 0xFFFF || size_ + total - kHeaderSize > 0xFFFF) {
    fail(EncodeErrc::kValueOutOfRange, "header.length");
    return std::nullopt;
  }
  if (total > remaining()) {
    fail(EncodeErrc::kBufferTooSmall, attribute_name(type));
    return std::nullopt;
  }
  uint8_t* p = out_.data() + size_;
  store_u16(p, type);
  store_u16(p + 2, static_cast<uint16_t>(value_size));
  std::fill(p + 4 + value_size, p + total, uint8_t{0});
  size_ += total;
  ++attributes_;
  store_u16(out_.data() + 2, static_cast<uint16_t>(size_ - kHeaderSize));
  return out_.subspan(size_ - total + 4, value_size);
}

bool MessageBuilder::add_raw(uint16_t type, std::span<const uint8_t> value) {
  auto v = reserve(type, value.size());
  if (!v) return false;
  std::copy(value.begin(), value.end(), v->begin());
  return true;
}

bool MessageBuilder::add_u32(uint16_t type, uint32_t value) {
  auto v = reserve(type, kU32ValueSize);
  if (!v) return false;
  store_u32(v->data(), value);
  return true;
}

bool MessageBuilder::add_xor_mapped_address(const Endpoint& address) {
  if (!address.valid()) return fail(EncodeErrc::kInvalidAddress, "XOR-MAPPED-ADDRESS");
  auto v = reserve(attr::kXorMappedAddress, address_value_size(address));
  if (!v) return false;
  write_xor_address(address, tid_, *v);
  return true;
}

bool MessageBuilder::add_error_code(uint16_t code, std::string_view reason) {
  if (code < 300 || code > 699) return fail(EncodeErrc::kValueOutOfRange, "ERROR-CODE.code");
  if (reason.size() > kMaxReasonSize) {
    return fail(EncodeErrc::kValueOutOfRange, "ERROR-CODE.reason");
  }
  auto v = reserve(attr::kErrorCode, 4 + reason.size());
  if (!v) return false;
  write_error_code(code, reason, *v);
  return true;
}

bool MessageBuilder::add_unknown_attributes(std::span<const uint16_t> types) {
  auto v = reserve(attr::kUnknownAttributes, 2 * types.size());
  if (!v) return false;
  for (size_t i = 0; i < types.size(); ++i)
    store_u16(v->data() + 2 * i, types[i]);
  return true;
}

bool MessageBuilder::add_padding(size_t value_size) {
  auto v = reserve(attr::kPadding, value_size);
  if (!v) return false;
  std::fill(v->begin(), v->end(), uint8_t{0});
  return true;
}

bool MessageBuilder::add_software(std::string_view software) {
  if (software.size() > kMaxSoftwareSize) return fail(EncodeErrc::kValueOutOfRange, "SOFTWARE");
  return add_raw(attr::kSoftware, text_bytes(software));
}

bool MessageBuilder::add_node_name(std::string_view name) {
  if (!valid_node_name(name)) return fail(EncodeErrc::kValueOutOfRange, "NODE-NAME");
  return add_raw(attr::kNodeName, text_bytes(name));
}

bool MessageBuilder::add_load(const Load& load) {
  auto v = reserve(attr::kLoad, kLoadSize);
  if (!v) return false;
  write_load(load, *v);
  return true;
}

bool MessageBuilder::add_child(const ChildEntry& child) {
  if (!child.address.valid()) return fail(EncodeErrc::kInvalidAddress, "CHILD");
  auto v = reserve(attr::kChild, child_value_size(child.address));
  if (!v) return false;
  write_child(child, *v);
  return true;
}

bool MessageBuilder::add_service(std::string_view uri) {
  if (!valid_service_text(uri)) return fail(EncodeErrc::kValueOutOfRange, "SERVICE");
  return add_raw(attr::kService, text_bytes(uri));
}

bool MessageBuilder::add_flow_control(const FlowControl& flow) {
  auto v = reserve(attr::kFlowControl, kFlowControlSize);
  if (!v) return false;
  write_flow_control(flow, *v);
  return true;
}

bool MessageBuilder::add_reply_flags(uint32_t flags) {
  return add_u32(attr::kReplyFlags, flags);
}

bool MessageBuilder::add_children_wanted(uint16_t max_children) {
  return add_u32(attr::kChildrenWanted, uint32_t{max_children} << 16);
}

bool MessageBuilder::add_depth_wanted(uint8_t depth) {
  return add_u32(attr::kDepthWanted, uint32_t{depth} << 24);
}

bool MessageBuilder::add_grandchild(const ChildEntry& grandchild) {
  if (!grandchild.address.valid()) return fail(EncodeErrc::kInvalidAddress, "GRANDCHILD");
  auto v = reserve(attr::kGrandchild, child_value_size(grandchild.address));
  if (!v) return false;
  write_child(grandchild, *v);
  return true;
}

bool MessageBuilder::add_capacity_token(std::span<const uint8_t> token) {
  if (token.empty() || token.size() > kMaxCapacityTokenSize) {
    return fail(EncodeErrc::kValueOutOfRange, "CAPACITY-TOKEN");
  }
  return add_raw(attr::kCapacityToken, token);
}

bool MessageBuilder::add_advertised_address(const Endpoint& address) {
  if (!address.valid()) return fail(EncodeErrc::kInvalidAddress, "ADVERTISED-ADDRESS");
  auto v = reserve(attr::kAdvertisedAddress, address_value_size(address));
  if (!v) return false;
  write_address(address, *v);
  return true;
}

bool MessageBuilder::add_capacity(uint32_t capacity) {
  return add_u32(attr::kCapacity, capacity);
}

bool MessageBuilder::add_subtree(const Subtree& subtree) {
  auto v = reserve(attr::kSubtree, kSubtreeSize);
  if (!v) return false;
  write_subtree(subtree, *v);
  return true;
}

bool MessageBuilder::add_node_state(NodeState state) {
  return add_u32(attr::kNodeState, uint32_t{static_cast<uint8_t>(state)} << 24);
}

bool MessageBuilder::add_timestamp(uint64_t unix_ms) {
  auto v = reserve(attr::kTimestamp, kTimestampSize);
  if (!v) return false;
  store_u64(v->data(), unix_ms);
  return true;
}

bool MessageBuilder::add_weight(uint16_t weight) {
  if (weight == 0) return fail(EncodeErrc::kValueOutOfRange, "WEIGHT");
  return add_u32(attr::kWeight, uint32_t{weight} << 16);
}

bool MessageBuilder::add_encoded(const EncodedAttributes& attributes) {
  if (error_) return false;
  if (stage_ != Stage::kOpen) return fail(EncodeErrc::kBadState, "encoded attributes");
  const std::span<const uint8_t> bytes = attributes.bytes();
  if (attributes.count() > kMaxAttributes - attributes_) {
    return fail(EncodeErrc::kValueOutOfRange, "attribute count");
  }
  if (size_ + bytes.size() - kHeaderSize > 0xFFFF) {
    return fail(EncodeErrc::kValueOutOfRange, "header.length");
  }
  if (bytes.size() > remaining()) return fail(EncodeErrc::kBufferTooSmall, "encoded attributes");
  std::copy(bytes.begin(), bytes.end(), out_.data() + size_);
  size_ += bytes.size();
  attributes_ += attributes.count();
  store_u16(out_.data() + 2, static_cast<uint16_t>(size_ - kHeaderSize));
  return true;
}

bool MessageBuilder::add_integrity_sha256(std::span<const uint8_t> key) {
  if (key.empty()) return fail(EncodeErrc::kValueOutOfRange, "MESSAGE-INTEGRITY-SHA256.key");
  auto v = reserve(attr::kMessageIntegritySha256, kIntegritySha256Size);
  if (!v) return false;
  // The header length already covers this attribute, as RFC 8489 §14.6 requires.
  const size_t covered = size_ - kIntegritySha256Size - 4;
  std::span<uint8_t, kHmacSha256Size> mac(v->data(), kHmacSha256Size);
  if (!hmac_sha256(key, {out_.first(covered)}, mac)) {
    return fail(EncodeErrc::kCryptoFailure, "MESSAGE-INTEGRITY-SHA256");
  }
  stage_ = Stage::kSigned;
  return true;
}

bool MessageBuilder::add_fingerprint() {
  auto v = reserve(attr::kFingerprint, kFingerprintSize);
  if (!v) return false;
  const size_t covered = size_ - kFingerprintSize - 4;
  store_u32(v->data(), crc32(out_.first(covered)) ^ kFingerprintXor);
  stage_ = Stage::kSealed;
  return true;
}

Result<size_t, EncodeError> MessageBuilder::finish() const {
  if (error_) return unexpected(*error_);
  if (stage_ == Stage::kIdle) return unexpected(EncodeError{EncodeErrc::kBadState, "header"});
  return size_;
}

Result<EncodedAttributes, EncodeError> MessageBuilder::attributes() const {
  if (error_) return unexpected(*error_);
  if (stage_ != Stage::kOpen) {
    return unexpected(EncodeError{EncodeErrc::kBadState, "encoded attributes"});
  }
  EncodedAttributes out;
  out.bytes_.assign(out_.data() + kHeaderSize, out_.data() + size_);
  out.count_ = attributes_;
  return out;
}

}  // namespace turnscout::proto
