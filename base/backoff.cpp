#include "base/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace turnscout {
namespace {

BackoffConfig sanitize(BackoffConfig c) {
  c.cap = std::max(c.cap, Duration::zero());
  c.base = std::clamp(c.base, Duration::zero(), c.cap);
  c.factor = c.factor >= 1.0 ? c.factor : 1.0;  // Also maps NaN to 1.
  c.jitter = c.jitter > 0.0 ? std::min(c.jitter, 1.0) : 0.0;
  return c;
}

}  // namespace

Backoff::Backoff(BackoffConfig config) : config_(sanitize(config)), nominal_(config_.base) {}

Duration Backoff::next(Random& random) {
  const Duration nominal = nominal_;
  const double grown = static_cast<double>(nominal_.count()) * config_.factor;
  const double cap = static_cast<double>(config_.cap.count());
  nominal_ = grown >= cap ? config_.cap : Duration{static_cast<Duration::rep>(grown)};
  if (attempts_ < UINT32_MAX) ++attempts_;

  // The min() guards against rounding up when a huge nominal is converted to double.
  const auto span = std::min(
      static_cast<uint64_t>(std::floor(static_cast<double>(nominal.count()) * config_.jitter)),
      static_cast<uint64_t>(nominal.count()));
  if (span == 0) return nominal;  // Leaves the random stream alone when there is no jitter.
  return nominal - Duration{static_cast<Duration::rep>(random.below(span + 1))};
}

void Backoff::reset() {
  nominal_ = config_.base;
  attempts_ = 0;
}

}  // namespace turnscout
