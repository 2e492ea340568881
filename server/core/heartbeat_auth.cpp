#include "server/core/heartbeat_auth.hpp"

#include <chrono>

#include "base/bytes.hpp"
#include "proto/constants.hpp"

namespace turnscout::server {

ClusterKeys ClusterKeys::of(const std::string& key, const std::string& accept_key) {
  return {bytes_of(key), bytes_of(accept_key)};
}

bool verify_signed(const proto::MessageView& message, const ClusterKeys& keys) {
  if (proto::verify_integrity_sha256(message, keys.sign)) return true;
  return !keys.also.empty() && proto::verify_integrity_sha256(message, keys.also);
}

AuthCheck check_request_auth(const proto::MessageView& request, const ClusterKeys& keys,
                             uint64_t timestamp_ms, uint64_t wall_ms, Duration replay_window) {
  if (keys.empty()) return AuthCheck::kOk;
  if (!request.integrity_sha256()) return AuthCheck::kMissingIntegrity;
  // The free check before the HMAC: a timestamp outside the window fails either way.
  const auto window_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(replay_window).count());
  const uint64_t skew = timestamp_ms > wall_ms ? timestamp_ms - wall_ms : wall_ms - timestamp_ms;
  if (skew > window_ms) return AuthCheck::kStale;
  if (!verify_signed(request, keys)) return AuthCheck::kBadIntegrity;
  return AuthCheck::kOk;
}

Rejection rejection_for(AuthCheck check) {
  switch (check) {
    case AuthCheck::kOk:
      break;
    case AuthCheck::kMissingIntegrity:
      return {proto::error_code::kUnauthorized, "integrity required"};
    case AuthCheck::kBadIntegrity:
      return {proto::error_code::kUnauthorized, "bad integrity"};
    case AuthCheck::kStale:
      return {proto::error_code::kStaleTimestamp, "stale timestamp"};
  }
  return {proto::error_code::kServerError, "server error"};
}

}  // namespace turnscout::server
