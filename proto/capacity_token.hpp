// Capacity tokens: a cluster-signed grant of a higher admission tier, carried in
// CAPACITY-TOKEN and printed as base64url (base64url.hpp) for humans. The time is always
// passed in, never read here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "proto/errors.hpp"

namespace turnscout::proto {

inline constexpr uint8_t kCapacityTokenVersion = 1;
inline constexpr size_t kMaxClientIdSize = 64;
// version, tier, reserved, expiry, client-id length; then client id and the HMAC.
inline constexpr size_t kCapacityTokenFixedSize = 13;

struct CapacityToken {
  uint8_t tier = 1;            // 1..255; tier 0 (free) needs no token.
  uint64_t expiry_unix_s = 0;  // Valid while now < expiry.
  std::string client_id;       // At most 64 bytes; empty = any client.
  friend bool operator==(const CapacityToken&, const CapacityToken&) = default;
};

enum class TokenErrc : uint8_t {
  kMalformed,  // Wrong size, reserved bits set or tier 0.
  kUnsupportedVersion,
  kBadSignature,  // The HMAC does not match the key.
  kExpired,
  kWrongClient,  // Bound to another client id.
};

const char* to_string(TokenErrc code);

size_t capacity_token_size(const CapacityToken& token);

// Signs `token` with `key` into `out`. Refuses tier 0, a client id over 64 bytes, an empty
// key, and a token that would already be expired at `now_unix_s`.
Result<size_t, EncodeError> issue_capacity_token(const CapacityToken& token,
                                                 std::span<const uint8_t> key, uint64_t now_unix_s,
                                                 std::span<uint8_t> out);

// Checks structure, signature, expiry and binding, in that order. `client_id` is the
// verifier's identity for the requester; servers use its source IP address in canonical
// text form (e.g. "198.51.100.23", "2001:db8::17").
Result<CapacityToken, TokenErrc> verify_capacity_token(std::span<const uint8_t> token,
                                                       std::span<const uint8_t> key,
                                                       uint64_t now_unix_s,
                                                       std::string_view client_id);

}  // namespace turnscout::proto
