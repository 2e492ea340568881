#include "base/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace turnscout {
namespace {

// Absorbs rounding so that a request passes at exactly the time when_available() named.
constexpr double kSlack = 1e-9;
constexpr double kMicrosPerSecond = 1e6;

// Negative and NaN parameters become 0.
double sane(double v) {
  return v > 0 ? v : 0;
}

}  // namespace

static_assert(sizeof(TokenBucket) <= 32, "one bucket per client address: keep it small");

TokenBucket::TokenBucket(double burst, double refill_per_second, TimePoint now)
    : tokens_(sane(burst)), burst_(sane(burst)), rate_(sane(refill_per_second)), last_(now) {}

void TokenBucket::refill(TimePoint now) {
  if (now <= last_) return;
  const auto elapsed = static_cast<double>((now - last_).count());
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_ / kMicrosPerSecond);
  last_ = now;
}

bool TokenBucket::try_take(TimePoint now, double cost) {
  refill(now);
  cost = sane(cost);
  if (tokens_ + kSlack < cost) return false;
  tokens_ = std::max(0.0, tokens_ - cost);
  return true;
}

bool TokenBucket::can_take(TimePoint now, double cost) {
  refill(now);
  return tokens_ + kSlack >= sane(cost);
}

double TokenBucket::available(TimePoint now) {
  refill(now);
  return tokens_;
}

TimePoint TokenBucket::when_available(TimePoint now, double cost) {
  refill(now);
  cost = sane(cost);
  if (tokens_ + kSlack >= cost) return now;
  const TimePoint from = std::max(now, last_);
  if (cost > burst_ + kSlack || rate_ <= 0) return kNever;
  const double wait_us = std::ceil((cost - tokens_) * kMicrosPerSecond / rate_);
  const double room = static_cast<double>((kNever - from).count());
  if (wait_us >= room) return kNever;
  return from + Duration{static_cast<Duration::rep>(wait_us)};
}

bool TokenBucket::is_full(TimePoint now) {
  refill(now);
  return tokens_ + kSlack >= burst_;
}

void TokenBucket::reconfigure(double burst, double refill_per_second, TimePoint now) {
  refill(now);
  burst_ = sane(burst);
  rate_ = sane(refill_per_second);
  tokens_ = std::min(tokens_, burst_);
}

}  // namespace turnscout
