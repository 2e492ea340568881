// Level 1: generic STUN framing (RFC 8489 §5, §14). parse_message checks the header, the
// attribute framing and FINGERPRINT, and indexes the attributes without copying or
// allocating; typed decoders (probe.hpp, heartbeat.hpp, ...) read from the view.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/result.hpp"
#include "proto/constants.hpp"
#include "proto/errors.hpp"

namespace turnscout::proto {

class HmacSha256;  // proto/crypto.hpp

struct Attribute {
  uint16_t type = 0;
  uint32_t offset = 0;             // Of the attribute header, from the start of the message.
  std::span<const uint8_t> value;  // Unpadded; points into the parsed message.
};

// A parsed message. It refers to the bytes given to parse_message, which must outlive it.
// Attributes that RFC 8489 says to ignore (after MESSAGE-INTEGRITY or
// MESSAGE-INTEGRITY-SHA256, except the integrity and fingerprint attributes allowed there)
// are framed and counted but not listed.
class MessageView {
 public:
  class Iterator;
  // At most this many distinct unknown comprehension-required types are remembered.
  static constexpr size_t kMaxUnknownReported = 16;

  // Leaves the attribute slots unset: parse_message fills the ones it lists, and only those
  // are ever read.
  MessageView() {}  // Not "= default": value-initialisation would then zero the slots.

  uint16_t type() const { return type_; }
  Method method() const { return method_of(type_); }
  MessageClass message_class() const { return class_of(type_); }
  const TransactionId& transaction_id() const { return transaction_id_; }
  std::span<const uint8_t> bytes() const { return bytes_; }
  size_t size() const { return bytes_.size(); }

  size_t attribute_count() const { return count_; }
  Attribute attribute(size_t index) const;
  Iterator begin() const;
  Iterator end() const;
  // The first attribute of this type (duplicates of non-repeatable attributes are ignored).
  std::optional<Attribute> find(uint16_t type) const;
  size_t count(uint16_t type) const;

  // FINGERPRINT is present, last, and its CRC matched (parse_message rejects a bad one).
  bool has_fingerprint() const { return has_fingerprint_; }
  // MESSAGE-INTEGRITY-SHA256, unverified: see verify_integrity_sha256.
  std::optional<Attribute> integrity_sha256() const;
  // Unknown comprehension-required attribute types, distinct, in order of appearance.
  std::span<const uint16_t> unknown_required() const { return {unknown_.data(), unknown_count_}; }
  bool has_unknown_required() const { return unknown_count_ > 0; }
  uint32_t first_unknown_offset() const { return first_unknown_offset_; }

 private:
  friend Result<MessageView, DecodeError> parse_message(std::span<const uint8_t> bytes);

  struct Slot {
    uint16_t type;
    uint16_t length;
    uint32_t offset;
  };
  static constexpr size_t kNone = ~size_t{0};

  // parse_message's work, on a view built in place.
  Result<void, DecodeError> index(std::span<const uint8_t> bytes);
  void note_unknown(uint16_t type, uint32_t offset);

  std::span<const uint8_t> bytes_;
  uint16_t type_ = 0;
  TransactionId transaction_id_{};
  std::array<Slot, kMaxAttributes> slots_;
  size_t count_ = 0;
  size_t integrity_sha256_index_ = kNone;
  bool has_fingerprint_ = false;
  std::array<uint16_t, kMaxUnknownReported> unknown_;
  size_t unknown_count_ = 0;
  uint32_t first_unknown_offset_ = 0;
};

class MessageView::Iterator {
 public:
  Iterator(const MessageView* view, size_t index) : view_(view), index_(index) {}
  Attribute operator*() const { return view_->attribute(index_); }
  Iterator& operator++() {
    ++index_;
    return *this;
  }
  bool operator==(const Iterator& other) const { return index_ == other.index_; }

 private:
  const MessageView* view_;
  size_t index_;
};

inline MessageView::Iterator MessageView::begin() const {
  return {this, 0};
}
inline MessageView::Iterator MessageView::end() const {
  return {this, count_};
}

// Validates and indexes one datagram. Errors name the first problem found.
Result<MessageView, DecodeError> parse_message(std::span<const uint8_t> bytes);

// Cheap demultiplexing test (RFC 8489 §7.3, RFC 7983): header shape, cookie and length.
bool looks_like_stun(std::span<const uint8_t> bytes);

// True if the message carries a 32-byte MESSAGE-INTEGRITY-SHA256 that matches `key`.
bool verify_integrity_sha256(const MessageView& view, std::span<const uint8_t> key);
// The same with a pre-keyed HMAC (false when it has no key): nothing allocated per call.
bool verify_integrity_sha256(const MessageView& view, HmacSha256& mac);

// Checks shared by the typed decoders: the method and class are the expected ones, no
// unknown comprehension-required attribute is present (a request then deserves a 420),
// and our own methods carry FINGERPRINT.
Result<void, DecodeError> check_message(const MessageView& view, Method method, MessageClass cls);

}  // namespace turnscout::proto
