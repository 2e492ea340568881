// A token bucket: admits bursts of up to `burst` tokens and a sustained `refill_per_second`.
// The server keeps one per client address; a well-behaved client mirrors the bucket a
// server announces and waits for when_available() instead of being refused.
#pragma once

#include "base/clock.hpp"

namespace turnscout {

class TokenBucket {
 public:
  // Starts full. Negative or NaN parameters count as 0 (a bucket that admits nothing).
  TokenBucket(double burst, double refill_per_second, TimePoint now);

  // Takes `cost` tokens if that many are available at `now`. A negative cost counts as 0.
  // Time that goes backwards counts as no time passing.
  bool try_take(TimePoint now, double cost);
  // Whether try_take(now, cost) would pass, taking nothing.
  bool can_take(TimePoint now, double cost);
  // Tokens available at `now`, at most burst().
  double available(TimePoint now);
  // The earliest time at or after `now` when try_take(t, cost) would pass if nothing else
  // is taken meanwhile; kNever when `cost` exceeds the burst or nothing refills.
  TimePoint when_available(TimePoint now, double cost);
  // True when the bucket is full at `now`: it is then indistinguishable from a new bucket,
  // so a bounded table may drop it without changing anyone's admission.
  bool is_full(TimePoint now);

  // New parameters from `now` on. Tokens earned so far at the old rate are kept, up to the
  // new burst: shrinking the burst caps the fill, growing it adds no free tokens.
  void reconfigure(double burst, double refill_per_second, TimePoint now);

  double burst() const { return burst_; }
  double refill_per_second() const { return rate_; }

 private:
  void refill(TimePoint now);

  double tokens_;
  double burst_;
  double rate_;
  TimePoint last_;
};

}  // namespace turnscout
