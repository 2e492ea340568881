#include "proto/message_view.hpp"

#include <algorithm>

#include "proto/byte_order.hpp"
#include "proto/crypto.hpp"

namespace turnscout::proto {
namespace {

DecodeError fail(DecodeErrc code, size_t offset, const char* where) {
  return DecodeError{code, static_cast<uint32_t>(offset), where};
}

// Comprehension-required types this implementation understands.
bool known_required(uint16_t type) {
  switch (type) {
    case attr::kMappedAddress:
    case attr::kUsername:
    case attr::kMessageIntegrity:
    case attr::kErrorCode:
    case attr::kUnknownAttributes:
    case attr::kMessageIntegritySha256:
    case attr::kXorMappedAddress:
    case attr::kPadding:
      return true;
    default:
      return false;
  }
}

Result<void, DecodeError> check_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return unexpected(fail(DecodeErrc::kTruncated, 0, "header"));
  if ((bytes[0] & 0xC0) != 0) return unexpected(fail(DecodeErrc::kNotStun, 0, "header.type"));
  if (load_u32(bytes.data() + 4) != kMagicCookie) {
    return unexpected(fail(DecodeErrc::kBadCookie, 4, "header.cookie"));
  }
  const size_t length = load_u16(bytes.data() + 2);
  if (length % 4 != 0 || length != bytes.size() - kHeaderSize) {
    return unexpected(fail(DecodeErrc::kBadLength, 2, "header.length"));
  }
  return {};
}

Result<void, DecodeError> check_fingerprint(std::span<const uint8_t> bytes, size_t offset,
                                            size_t length) {
  if (length != 4)
    return unexpected(fail(DecodeErrc::kBadFingerprint, offset, "FINGERPRINT.length"));
  const uint32_t expected = crc32(bytes.first(offset)) ^ kFingerprintXor;
  if (load_u32(bytes.data() + offset + 4) != expected) {
    return unexpected(fail(DecodeErrc::kBadFingerprint, offset + 4, "FINGERPRINT.value"));
  }
  return {};
}

}  // namespace

Attribute MessageView::attribute(size_t index) const {
  const Slot& s = slots_[index];
  return Attribute{s.type, s.offset, bytes_.subspan(s.offset + 4, s.length)};
}

std::optional<Attribute> MessageView::find(uint16_t type) const {
  for (size_t i = 0; i < count_; ++i) {
    if (slots_[i].type == type) return attribute(i);
  }
  return std::nullopt;
}

size_t MessageView::count(uint16_t type) const {
  return static_cast<size_t>(std::count_if(slots_.begin(), slots_.begin() + count_,
                                           [type](const Slot& s) { return s.type == type; }));
}

std::optional<Attribute> MessageView::integrity_sha256() const {
  if (integrity_sha256_index_ == kNone) return std::nullopt;
  return attribute(integrity_sha256_index_);
}

void MessageView::note_unknown(uint16_t type, uint32_t offset) {
  if (unknown_count_ == 0) first_unknown_offset_ = offset;
  const auto known = unknown_.begin() + unknown_count_;
  if (std::find(unknown_.begin(), known, type) != known) return;
  if (unknown_count_ < unknown_.size()) unknown_[unknown_count_++] = type;
}

Result<void, DecodeError> MessageView::index(std::span<const uint8_t> bytes) {
  if (auto header = check_header(bytes); !header) return header;
  bytes_ = bytes;
  type_ = load_u16(bytes.data());
  std::copy_n(bytes.data() + 8, transaction_id_.size(), transaction_id_.begin());

  bool after_integrity = false;         // MESSAGE-INTEGRITY (SHA-1) seen.
  bool after_integrity_sha256 = false;  // MESSAGE-INTEGRITY-SHA256 seen.
  size_t framed = 0;
  for (size_t pos = kHeaderSize; pos < bytes.size();) {
    if (bytes.size() - pos < 4) return unexpected(fail(DecodeErrc::kTruncated, pos, "attribute"));
    const uint16_t type = load_u16(bytes.data() + pos);
    const uint16_t length = load_u16(bytes.data() + pos + 2);
    const size_t padded = (size_t{length} + 3) & ~size_t{3};
    if (padded > bytes.size() - pos - 4) {
      return unexpected(fail(DecodeErrc::kTruncated, pos + 2, "attribute.length"));
    }
    if (++framed > kMaxAttributes) {
      return unexpected(fail(DecodeErrc::kTooManyAttributes, pos, "attribute"));
    }
    const bool listed =
        type == attr::kFingerprint ||
        (!after_integrity_sha256 && (!after_integrity || type == attr::kMessageIntegritySha256));
    if (type == attr::kFingerprint) {
      const size_t next = pos + 4 + padded;
      if (next != bytes.size()) {
        return unexpected(fail(DecodeErrc::kAttributeAfterFingerprint, next, "attribute"));
      }
      if (auto fp = check_fingerprint(bytes, pos, length); !fp) return fp;
      has_fingerprint_ = true;
    } else if (listed && type == attr::kMessageIntegritySha256) {
      after_integrity_sha256 = true;
      integrity_sha256_index_ = count_;
    } else if (listed && type == attr::kMessageIntegrity) {
      after_integrity = true;
    } else if (listed && attr::comprehension_required(type) && !known_required(type)) {
      note_unknown(type, static_cast<uint32_t>(pos));
    }
    if (listed) slots_[count_++] = {type, length, static_cast<uint32_t>(pos)};
    pos += 4 + padded;
  }
  return {};
}

Result<MessageView, DecodeError> parse_message(std::span<const uint8_t> bytes) {
  // Built in place and returned by name: a view is over 1 KB, and zeroing and copying it
  // cost a large share of handling a datagram.
  Result<MessageView, DecodeError> out(std::in_place);
  if (auto indexed = out->index(bytes); !indexed) out = unexpected(indexed.error());
  return out;
}

bool looks_like_stun(std::span<const uint8_t> bytes) {
  return bytes.size() >= kHeaderSize && (bytes[0] & 0xC0) == 0 &&
         load_u32(bytes.data() + 4) == kMagicCookie &&
         size_t{load_u16(bytes.data() + 2)} + kHeaderSize == bytes.size() &&
         (bytes.size() % 4) == 0;
}

namespace {

// MESSAGE-INTEGRITY-SHA256 checked with `hmac(parts, out)`.
template <typename Hmac>
bool verify_integrity_with(const MessageView& view, Hmac&& hmac) {
  const auto mi = view.integrity_sha256();
  if (!mi || mi->value.size() != kIntegritySha256Size) return false;
  // RFC 8489 §14.6: the header length covers the message up to the end of this attribute.
  const size_t covered_length = mi->offset + 4 + kIntegritySha256Size - kHeaderSize;
  uint8_t length_field[2];
  store_u16(length_field, static_cast<uint16_t>(covered_length));
  const auto bytes = view.bytes();
  std::array<uint8_t, kHmacSha256Size> mac{};
  if (!hmac({bytes.first(2), length_field, bytes.subspan(4, mi->offset - 4)}, mac)) return false;
  return constant_time_equal(mac, mi->value);
}

}  // namespace

bool verify_integrity_sha256(const MessageView& view, std::span<const uint8_t> key) {
  if (key.empty()) return false;
  return verify_integrity_with(
      view, [&](std::initializer_list<std::span<const uint8_t>> parts,
                std::span<uint8_t, kHmacSha256Size> out) { return hmac_sha256(key, parts, out); });
}

bool verify_integrity_sha256(const MessageView& view, HmacSha256& mac) {
  if (!mac.has_key()) return false;
  return verify_integrity_with(
      view, [&](std::initializer_list<std::span<const uint8_t>> parts,
                std::span<uint8_t, kHmacSha256Size> out) { return mac.compute(parts, out); });
}

Result<void, DecodeError> check_message(const MessageView& view, Method method, MessageClass cls) {
  if (view.method() != method || view.message_class() != cls) {
    return unexpected(fail(DecodeErrc::kUnexpectedMessage, 0, "header.type"));
  }
  // FINGERPRINT first: a message of ours without it is not intact (one corrupted byte turns
  // FINGERPRINT's type 0x8028 into an unknown required 0x1328), and must not earn a 420.
  if (is_turnscout_method(method) && !view.has_fingerprint()) {
    return unexpected(fail(DecodeErrc::kMissingFingerprint, view.size(), "FINGERPRINT"));
  }
  if (view.has_unknown_required()) {
    return unexpected(
        fail(DecodeErrc::kUnknownRequiredAttribute, view.first_unknown_offset(), "attribute.type"));
  }
  return {};
}

}  // namespace turnscout::proto
