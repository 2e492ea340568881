#include "client/core/exchange.hpp"

#include <algorithm>

namespace turnscout::client {

Exchange::Exchange(uint32_t max_attempts, Duration first_rto, const RtoConfig& rto)
    : backoff_(BackoffConfig{std::max(first_rto, rto.min), 2.0,
                             std::max({rto.max, rto.min, first_rto}), rto.jitter}),
      min_rto_(rto.min),
      max_attempts_(std::clamp<uint32_t>(max_attempts, 1, kMaxAttemptsLimit)) {}

uint32_t Exchange::sent(TimePoint now, Random& random) {
  const uint32_t attempt = std::min(attempts_, max_attempts_ - 1);
  sent_at_[attempt] = now;
  attempts_ = attempt + 1;
  due_ = now + std::max(min_rto_, backoff_.next(random));
  return attempt;
}

}  // namespace turnscout::client
