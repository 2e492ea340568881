#include "proto/errors.hpp"

namespace turnscout::proto {

const char* to_string(DecodeErrc code) {
  switch (code) {
    case DecodeErrc::kTruncated:
      return "truncated";
    case DecodeErrc::kNotStun:
      return "not-stun";
    case DecodeErrc::kBadCookie:
      return "bad-cookie";
    case DecodeErrc::kBadLength:
      return "bad-length";
    case DecodeErrc::kTooManyAttributes:
      return "too-many-attributes";
    case DecodeErrc::kAttributeAfterFingerprint:
      return "attribute-after-fingerprint";
    case DecodeErrc::kBadFingerprint:
      return "bad-fingerprint";
    case DecodeErrc::kBadAttributeLength:
      return "bad-attribute-length";
    case DecodeErrc::kBadValue:
      return "bad-value";
    case DecodeErrc::kMissingAttribute:
      return "missing-attribute";
    case DecodeErrc::kMissingFingerprint:
      return "missing-fingerprint";
    case DecodeErrc::kUnexpectedMessage:
      return "unexpected-message";
    case DecodeErrc::kUnknownRequiredAttribute:
      return "unknown-required-attribute";
  }
  return "unknown";
}

const char* to_string(EncodeErrc code) {
  switch (code) {
    case EncodeErrc::kBufferTooSmall:
      return "buffer-too-small";
    case EncodeErrc::kValueOutOfRange:
      return "value-out-of-range";
    case EncodeErrc::kInvalidAddress:
      return "invalid-address";
    case EncodeErrc::kBadState:
      return "bad-state";
    case EncodeErrc::kCryptoFailure:
      return "crypto-failure";
  }
  return "unknown";
}

std::string to_string(const DecodeError& error) {
  return std::string(to_string(error.code)) + " at offset " + std::to_string(error.offset) + " (" +
         error.where + ")";
}

std::string to_string(const EncodeError& error) {
  return std::string(to_string(error.code)) + " (" + error.where + ")";
}

}  // namespace turnscout::proto
