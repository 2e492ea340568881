#include "server/core/heartbeat_auth.hpp"

#include <chrono>

#include "proto/constants.hpp"

namespace turnscout::server {

AuthCheck check_request_auth(const proto::MessageView& request, std::span<const uint8_t> key,
                             uint64_t timestamp_ms, uint64_t wall_ms, Duration replay_window) {
  if (key.empty()) return AuthCheck::kOk;
  if (!request.integrity_sha256()) return AuthCheck::kMissingIntegrity;
  // The free check before the HMAC: a timestamp outside the window fails either way.
  const auto window_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(replay_window).count());
  const uint64_t skew = timestamp_ms > wall_ms ? timestamp_ms - wall_ms : wall_ms - timestamp_ms;
  if (skew > window_ms) return AuthCheck::kStale;
  if (!proto::verify_integrity_sha256(request, key)) return AuthCheck::kBadIntegrity;
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
