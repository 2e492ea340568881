// Writes one STUN message into a caller-provided buffer, attribute by attribute, without
// allocating. Like parse_message, it allows at most kMaxAttributes attributes. Errors are sticky:
// after the first failure every add_* returns false and finish() reports that failure, so a
// sequence of adds needs one check at the end. The buffer is never written past its end; to enforce
// a size budget, pass out.first(budget).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/address.hpp"
#include "base/result.hpp"
#include "proto/attributes.hpp"
#include "proto/constants.hpp"
#include "proto/errors.hpp"

namespace turnscout::proto {

// Attributes checked and written once by a MessageBuilder (see MessageBuilder::attributes),
// then copied whole into many messages with MessageBuilder::add_encoded: text that is the
// same in every reply pays its checks once instead of once per message.
class EncodedAttributes {
 public:
  std::span<const uint8_t> bytes() const { return bytes_; }
  size_t count() const { return count_; }
  friend bool operator==(const EncodedAttributes&, const EncodedAttributes&) = default;

 private:
  friend class MessageBuilder;
  std::vector<uint8_t> bytes_;  // Whole attributes: headers, values and padding.
  size_t count_ = 0;
};

class MessageBuilder {
 public:
  // `out` must outlive the builder; a builder can be reused for many messages.
  explicit MessageBuilder(std::span<uint8_t> out) : out_(out) {}

  // Writes the header and forgets any previous message or error.
  bool start(Method method, MessageClass cls, const TransactionId& tid);

  // Any attribute, value copied as is and zero-padded.
  bool add_raw(uint16_t type, std::span<const uint8_t> value);

  bool add_xor_mapped_address(const Endpoint& address);
  bool add_error_code(uint16_t code, std::string_view reason);  // 300..699, reason <= 128 bytes.
  bool add_unknown_attributes(std::span<const uint16_t> types);
  bool add_padding(size_t value_size);  // PADDING of `value_size` zero bytes.
  bool add_software(std::string_view software);

  bool add_node_name(std::string_view name);
  bool add_load(const Load& load);
  bool add_child(const ChildEntry& child);
  bool add_service(std::string_view uri);
  bool add_flow_control(const FlowControl& flow);
  bool add_reply_flags(uint32_t flags);
  bool add_children_wanted(uint16_t max_children);
  bool add_depth_wanted(uint8_t depth);
  bool add_grandchild(const ChildEntry& grandchild);  // CHILD's layout, type GRANDCHILD.
  bool add_capacity_token(std::span<const uint8_t> token);
  bool add_advertised_address(const Endpoint& address);
  bool add_capacity(uint32_t capacity);
  bool add_subtree(const Subtree& subtree);
  bool add_node_state(NodeState state);
  bool add_timestamp(uint64_t unix_ms);
  bool add_weight(uint16_t weight);  // 1..65535.
  // Copies attributes another builder checked and wrote; only the size limits are checked.
  bool add_encoded(const EncodedAttributes& attributes);

  // MESSAGE-INTEGRITY-SHA256 over everything so far; afterwards only FINGERPRINT may follow.
  bool add_integrity_sha256(std::span<const uint8_t> key);
  // FINGERPRINT; the message is then complete.
  bool add_fingerprint();

  size_t size() const { return size_; }
  size_t remaining() const { return out_.size() - size_; }
  // Whether an attribute with a value of `value_size` bytes still fits.
  bool fits(size_t value_size) const { return attribute_size(value_size) <= remaining(); }
  bool ok() const { return !error_.has_value(); }

  // The size of the message, or the first error.
  Result<size_t, EncodeError> finish() const;
  // A copy of the attributes written since start(), for add_encoded (it allocates). Only for
  // attributes whose bytes do not depend on the rest of the message: not the XOR-ed
  // addresses, and fails after MESSAGE-INTEGRITY-SHA256 or FINGERPRINT.
  Result<EncodedAttributes, EncodeError> attributes() const;

 private:
  enum class Stage : uint8_t { kIdle, kOpen, kSigned, kSealed };

  // Appends an attribute header and zeroed padding; returns the value bytes to fill.
  std::optional<std::span<uint8_t>> reserve(uint16_t type, size_t value_size);
  bool fail(EncodeErrc code, const char* where);
  bool add_u32(uint16_t type, uint32_t value);

  std::span<uint8_t> out_;
  size_t size_ = 0;
  size_t attributes_ = 0;
  Stage stage_ = Stage::kIdle;
  TransactionId tid_{};
  std::optional<EncodeError> error_;
};

}  // namespace turnscout::proto
