// Exponential backoff with jitter, for retransmissions and reconnects.
#pragma once

#include <cstdint>

#include "base/clock.hpp"
#include "base/random.hpp"

namespace turnscout {

struct BackoffConfig {
  Duration base = 100ms;  // Nominal delay of the first attempt.
  double factor = 2.0;    // Growth per attempt; values below 1 count as 1.
  Duration cap = 10s;     // No delay is ever longer.
  // Fraction of the nominal delay that may be taken off at random, in [0, 1]: 0 gives
  // exact delays, 1 gives "full jitter".
  double jitter = 0.2;
};

// Attempt n (from 0) has the nominal delay min(cap, base * factor^n), and next() returns a
// uniformly drawn whole number of microseconds in [nominal - floor(nominal * jitter),
// nominal]. Jitter only shortens delays, so the cap is a hard bound. The same seeded
// Random gives the same delays.
class Backoff {
 public:
  explicit Backoff(BackoffConfig config = {});

  // The delay before the next attempt; counts the attempt.
  Duration next(Random& random);
  // Back to the first attempt (after a success).
  void reset();
  // Delays handed out since construction or the last reset().
  uint32_t attempts() const { return attempts_; }
  const BackoffConfig& config() const { return config_; }

 private:
  BackoffConfig config_;
  Duration nominal_;
  uint32_t attempts_ = 0;
};

}  // namespace turnscout
