#include "client/core/health.hpp"

namespace turnscout::client {

const char* to_string(HealthState state) {
  switch (state) {
    case HealthState::kHealthy:
      return "healthy";
    case HealthState::kSuspect:
      return "suspect";
    case HealthState::kDead:
      return "dead";
    case HealthState::kRecovering:
      return "recovering";
  }
  return "?";
}

Health::Health(const HealthConfig& config)
    : backoff_(BackoffConfig{config.dead_base, 2.0, config.dead_cap, config.jitter}) {}

void Health::on_success() {
  state_ = HealthState::kHealthy;
  backoff_.reset();
}

void Health::on_failure(TimePoint now, Random& random) {
  if (state_ == HealthState::kHealthy) {
    state_ = HealthState::kSuspect;
    return;
  }
  // Suspect, recovering, or dead but probed anyway because nothing else was left.
  state_ = HealthState::kDead;
  retry_at_ = now + backoff_.next(random);
}

HealthState Health::state(TimePoint now) const {
  if (state_ == HealthState::kDead && now >= retry_at_) return HealthState::kRecovering;
  return state_;
}

}  // namespace turnscout::client
