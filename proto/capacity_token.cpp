#include "proto/capacity_token.hpp"

#include <algorithm>
#include <array>

#include "proto/byte_order.hpp"
#include "proto/crypto.hpp"

namespace turnscout::proto {

const char* to_string(TokenErrc code) {
  switch (code) {
    case TokenErrc::kMalformed:
      return "malformed";
    case TokenErrc::kUnsupportedVersion:
      return "unsupported-version";
    case TokenErrc::kBadSignature:
      return "bad-signature";
    case TokenErrc::kExpired:
      return "expired";
    case TokenErrc::kWrongClient:
      return "wrong-client";
  }
  return "unknown";
}

size_t capacity_token_size(const CapacityToken& token) {
  return kCapacityTokenFixedSize + token.client_id.size() + kHmacSha256Size;
}

Result<size_t, EncodeError> issue_capacity_token(const CapacityToken& token,
                                                 std::span<const uint8_t> key, uint64_t now_unix_s,
                                                 std::span<uint8_t> out) {
  if (token.tier == 0) return unexpected(EncodeError{EncodeErrc::kValueOutOfRange, "token.tier"});
  if (token.client_id.size() > kMaxClientIdSize) {
    return unexpected(EncodeError{EncodeErrc::kValueOutOfRange, "token.client_id"});
  }
  if (token.expiry_unix_s <= now_unix_s) {
    return unexpected(EncodeError{EncodeErrc::kValueOutOfRange, "token.expiry"});
  }
  if (key.empty()) return unexpected(EncodeError{EncodeErrc::kValueOutOfRange, "token.key"});
  const size_t size = capacity_token_size(token);
  if (out.size() < size) return unexpected(EncodeError{EncodeErrc::kBufferTooSmall, "token"});
  uint8_t* p = out.data();
  p[0] = kCapacityTokenVersion;
  p[1] = token.tier;
  store_u16(p + 2, 0);
  store_u64(p + 4, token.expiry_unix_s);
  p[12] = static_cast<uint8_t>(token.client_id.size());
  std::copy(token.client_id.begin(), token.client_id.end(), p + kCapacityTokenFixedSize);
  const size_t signed_size = size - kHmacSha256Size;
  std::span<uint8_t, kHmacSha256Size> mac(p + signed_size, kHmacSha256Size);
  if (!hmac_sha256(key, {out.first(signed_size)}, mac)) {
    return unexpected(EncodeError{EncodeErrc::kCryptoFailure, "token.hmac"});
  }
  return size;
}

Result<CapacityToken, TokenErrc> verify_capacity_token(std::span<const uint8_t> token,
                                                       std::span<const uint8_t> key,
                                                       uint64_t now_unix_s,
                                                       std::string_view client_id) {
  if (token.size() < kCapacityTokenFixedSize + kHmacSha256Size) {
    return unexpected(TokenErrc::kMalformed);
  }
  if (token[0] != kCapacityTokenVersion) return unexpected(TokenErrc::kUnsupportedVersion);
  const size_t id_size = token[12];
  if (id_size > kMaxClientIdSize ||
      token.size() != kCapacityTokenFixedSize + id_size + kHmacSha256Size) {
    return unexpected(TokenErrc::kMalformed);
  }
  const size_t signed_size = token.size() - kHmacSha256Size;
  std::array<uint8_t, kHmacSha256Size> mac{};
  if (!hmac_sha256(key, {token.first(signed_size)}, mac) ||
      !constant_time_equal(mac, token.subspan(signed_size))) {
    return unexpected(TokenErrc::kBadSignature);
  }
  if (token[1] == 0 || load_u16(token.data() + 2) != 0) return unexpected(TokenErrc::kMalformed);
  CapacityToken t;
  t.tier = token[1];
  t.expiry_unix_s = load_u64(token.data() + 4);
  t.client_id.assign(reinterpret_cast<const char*>(token.data()) + kCapacityTokenFixedSize,
                     id_size);
  if (now_unix_s >= t.expiry_unix_s) return unexpected(TokenErrc::kExpired);
  if (!t.client_id.empty() && t.client_id != client_id) return unexpected(TokenErrc::kWrongClient);
  return t;
}

}  // namespace turnscout::proto
