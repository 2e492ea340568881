// Error values for decoding and encoding. Cheap to copy; `where` always points to a
// static string naming the field at fault, so errors can be counted or logged later
// without allocating on the data path.
#pragma once

#include <cstdint>
#include <string>

namespace turnscout::proto {

enum class DecodeErrc : uint8_t {
  kTruncated,          // Fewer bytes than a header or a declared length needs.
  kNotStun,            // Top two bits of the message type are not zero.
  kBadCookie,          // Magic cookie is not 0x2112A442.
  kBadLength,          // Header length is not a multiple of 4 or not the datagram size - 20.
  kTooManyAttributes,  // More than kMaxAttributes attributes.
  kAttributeAfterFingerprint,
  kBadFingerprint,            // FINGERPRINT has the wrong size or value.
  kBadAttributeLength,        // An attribute value has a size its type does not allow.
  kBadValue,                  // A field holds a value outside its allowed range or alphabet.
  kMissingAttribute,          // A required attribute is absent.
  kMissingFingerprint,        // Our methods require FINGERPRINT.
  kUnexpectedMessage,         // Method or class is not the one the decoder reads.
  kUnknownRequiredAttribute,  // Unknown comprehension-required attribute (< 0x8000).
};

struct DecodeError {
  DecodeErrc code = DecodeErrc::kTruncated;
  uint32_t offset = 0;  // Byte offset in the message where the problem was found.
  const char* where = "";
};

enum class EncodeErrc : uint8_t {
  kBufferTooSmall,   // The caller's buffer cannot hold the message.
  kValueOutOfRange,  // A field does not fit its wire size or limits.
  kInvalidAddress,   // An Endpoint with no family.
  kBadState,         // Builder misuse: not started, or an attribute after FINGERPRINT.
  kCryptoFailure,    // The HMAC primitive failed.
};

struct EncodeError {
  EncodeErrc code = EncodeErrc::kBufferTooSmall;
  const char* where = "";
};

const char* to_string(DecodeErrc code);
const char* to_string(EncodeErrc code);
// "bad-value at offset 44 (CHILD.family)". Allocates: for logs and tests, not hot paths.
std::string to_string(const DecodeError& error);
std::string to_string(const EncodeError& error);

}  // namespace turnscout::proto
