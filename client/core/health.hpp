// The health of one server as this client has seen it. A single lost exchange never
// condemns a server (that takes two failed discoveries in a row), and a dead one is tried
// again after a backoff rather than dropped forever.
#pragma once

#include <cstdint>

#include "base/backoff.hpp"
#include "base/clock.hpp"
#include "base/random.hpp"
#include "client/core/options.hpp"

namespace turnscout::client {

enum class HealthState : uint8_t {
  kHealthy,     // Answered last time (or never tried).
  kSuspect,     // Failed once since its last answer.
  kDead,        // Failed again: not probed until its backoff ends.
  kRecovering,  // Its backoff ended; one more failure makes it dead for longer.
};

const char* to_string(HealthState state);

class Health {
 public:
  explicit Health(const HealthConfig& config = {});

  // A valid answer: healthy again, and the next death starts from the shortest backoff.
  void on_success();
  // Every attempt of an exchange failed (not one lost datagram).
  void on_failure(TimePoint now, Random& random);

  // kDead turns into kRecovering once `now` reaches retry_at().
  HealthState state(TimePoint now) const;
  bool may_probe(TimePoint now) const { return state(now) != HealthState::kDead; }
  TimePoint retry_at() const { return retry_at_; }

 private:
  Backoff backoff_;
  HealthState state_ = HealthState::kHealthy;
  TimePoint retry_at_{};
};

}  // namespace turnscout::client
