// The message-level checks on a Heartbeat or Leave request, before the child registry looks
// at who sent it. With a cluster key the request must carry a MESSAGE-INTEGRITY-SHA256 that
// verifies and a timestamp within the replay window of our wall clock; the registry then
// requires the timestamp to be newer than the last one it accepted from that child. Without
// a key nothing is checked here: only static children, by source address, are accepted.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "base/clock.hpp"
#include "proto/message_view.hpp"

namespace turnscout::server {

enum class AuthCheck : uint8_t {
  kOk,
  kMissingIntegrity,  // 401
  kBadIntegrity,      // 401
  kStale,             // 438: timestamp outside the replay window.
};

AuthCheck check_request_auth(const proto::MessageView& request, std::span<const uint8_t> key,
                             uint64_t timestamp_ms, uint64_t wall_ms, Duration replay_window);

// The error response a rejected request deserves (when it fits in the request's size).
struct Rejection {
  uint16_t code = 0;
  std::string_view reason;
};
Rejection rejection_for(AuthCheck check);

}  // namespace turnscout::server
