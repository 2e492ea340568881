// The message-level checks on a Heartbeat or Leave request, before the child registry looks
// at who sent it. With a cluster key the request must carry a MESSAGE-INTEGRITY-SHA256 that
// verifies and a timestamp within the replay window of our wall clock; the registry then
// requires the timestamp to be newer than the last one it accepted from that child. Without
// a key nothing is checked here: only static children, by source address, are accepted.
// During a key rotation a second key is accepted (see ClusterKeys).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "base/clock.hpp"
#include "proto/message_view.hpp"
#include "server/core/config.hpp"

namespace turnscout::server {

// The keys a cluster message may be signed with: this node's own (which it signs with) and,
// during a rotation, one more. Views into the strings of a ClusterConfig.
struct ClusterKeys {
  std::span<const uint8_t> sign;
  std::span<const uint8_t> also;  // Empty outside a rotation.

  static ClusterKeys of(const std::string& key, const std::string& accept_key);
  static ClusterKeys of(const ClusterConfig& cluster) {
    return of(cluster.key, cluster.accept_key);
  }
  bool empty() const { return sign.empty(); }
};

// Whether `message` carries a MESSAGE-INTEGRITY-SHA256 made with either key.
bool verify_signed(const proto::MessageView& message, const ClusterKeys& keys);

enum class AuthCheck : uint8_t {
  kOk,
  kMissingIntegrity,  // 401
  kBadIntegrity,      // 401
  kStale,             // 438: timestamp outside the replay window.
};

AuthCheck check_request_auth(const proto::MessageView& request, const ClusterKeys& keys,
                             uint64_t timestamp_ms, uint64_t wall_ms, Duration replay_window);

// The error response a rejected request deserves (when it fits in the request's size).
struct Rejection {
  uint16_t code = 0;
  std::string_view reason;
};
Rejection rejection_for(AuthCheck check);

}  // namespace turnscout::server
