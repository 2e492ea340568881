#include "base/token_bucket.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "base/random.hpp"

namespace turnscout {
namespace {
const TimePoint t0 = TimePoint{} + 1000s;
}  // namespace

TEST_CASE("burst 10, refill 5/s: ten pass, the eleventh fails, one more after 200ms") {
  TokenBucket bucket(10, 5, t0);
  for (int i = 0; i < 10; ++i)
    REQUIRE(bucket.try_take(t0, 1));
  CHECK_FALSE(bucket.try_take(t0, 1));
  CHECK(bucket.available(t0) == 0.0);
  CHECK_FALSE(bucket.try_take(t0 + 199'999us, 1));
  CHECK(bucket.try_take(t0 + 200ms, 1));
  CHECK_FALSE(bucket.try_take(t0 + 200ms, 1));
  CHECK(bucket.available(t0 + 400ms) == 1.0);
}

TEST_CASE("can_take says what try_take would do, and takes nothing") {
  TokenBucket bucket(2, 5, t0);
  CHECK(bucket.can_take(t0, 2));
  CHECK_FALSE(bucket.can_take(t0, 2.5));
  CHECK(bucket.try_take(t0, 1.5));
  CHECK_FALSE(bucket.can_take(t0, 1));
  CHECK(bucket.can_take(t0, 0.5));
  CHECK(bucket.can_take(t0, 0.5));  // Still there: nothing was taken.
  CHECK(bucket.can_take(t0 + 100ms, 1));
  CHECK(bucket.try_take(t0 + 100ms, 1));
}

TEST_CASE("the fill never exceeds the burst") {
  TokenBucket bucket(10, 5, t0);
  CHECK(bucket.available(t0) == 10.0);
  CHECK(bucket.is_full(t0));
  CHECK(bucket.try_take(t0, 4));
  CHECK_FALSE(bucket.is_full(t0));
  CHECK(bucket.available(t0 + 400ms) == 8.0);
  CHECK(bucket.available(t0 + 1h) == 10.0);
  CHECK(bucket.is_full(t0 + 1h));
  CHECK_FALSE(bucket.try_take(t0 + 1h, 10.5));
  CHECK(bucket.try_take(t0 + 1h, 10));
}

TEST_CASE("costs: zero always passes, negative counts as zero, fractions are exact") {
  TokenBucket bucket(2, 1, t0);
  CHECK(bucket.try_take(t0, 1.5));
  CHECK(bucket.try_take(t0, 0.5));
  CHECK(bucket.try_take(t0, 0));
  CHECK(bucket.try_take(t0, -5));
  CHECK(bucket.available(t0) == 0.0);
  CHECK_FALSE(bucket.try_take(t0, 0.25));
  CHECK(bucket.try_take(t0 + 250ms, 0.25));
}

TEST_CASE("time going backwards earns nothing and is not remembered") {
  TokenBucket bucket(10, 5, t0);
  REQUIRE(bucket.try_take(t0, 10));
  CHECK(bucket.available(t0 - 10s) == 0.0);
  CHECK_FALSE(bucket.try_take(t0 - 1s, 1));
  CHECK(bucket.available(t0 + 200ms) == 1.0);
}

TEST_CASE("when_available names the exact time a request would pass") {
  TokenBucket bucket(10, 5, t0);
  CHECK(bucket.when_available(t0, 10) == t0);
  REQUIRE(bucket.try_take(t0, 10));
  CHECK(bucket.when_available(t0, 1) == t0 + 200ms);
  CHECK(bucket.when_available(t0, 3) == t0 + 600ms);
  CHECK(bucket.when_available(t0 + 100ms, 1) == t0 + 200ms);
  CHECK(bucket.when_available(t0, 0) == t0);
  CHECK(bucket.when_available(t0, 10.5) == kNever);
  // A wait that is not a whole microsecond rounds up.
  TokenBucket odd(1, 3, t0);
  REQUIRE(odd.try_take(t0, 1));
  CHECK(odd.when_available(t0, 1) == t0 + 333'334us);
  CHECK_FALSE(odd.try_take(t0 + 333'333us, 1));
  CHECK(odd.try_take(t0 + 333'334us, 1));
}

TEST_CASE("a bucket that never refills, or refuses everything") {
  TokenBucket frozen(3, 0, t0);
  REQUIRE(frozen.try_take(t0, 3));
  CHECK(frozen.when_available(t0, 1) == kNever);
  CHECK_FALSE(frozen.try_take(t0 + 24h, 1));
  TokenBucket closed(-1, std::numeric_limits<double>::quiet_NaN(), t0);
  CHECK(closed.burst() == 0.0);
  CHECK(closed.refill_per_second() == 0.0);
  CHECK_FALSE(closed.try_take(t0, 1));
  CHECK(closed.try_take(t0, 0));
  // A wait beyond the representable future is never.
  TokenBucket slow(1, 1e-300, t0);
  REQUIRE(slow.try_take(t0, 1));
  CHECK(slow.when_available(t0, 1) == kNever);
}

TEST_CASE("reconfigure keeps earned tokens up to the new burst") {
  TokenBucket bucket(10, 5, t0);
  REQUIRE(bucket.try_take(t0, 6));             // 4 left.
  bucket.reconfigure(20, 10, t0 + 200ms);      // Earned 1 at the old rate: 5.
  CHECK(bucket.available(t0 + 200ms) == 5.0);  // No free top-up.
  CHECK(bucket.available(t0 + 300ms) == 6.0);  // New rate.
  CHECK(bucket.burst() == 20.0);
  CHECK(bucket.refill_per_second() == 10.0);
  bucket.reconfigure(2, 10, t0 + 300ms);
  CHECK(bucket.available(t0 + 300ms) == 2.0);
  CHECK(bucket.is_full(t0 + 300ms));
}

TEST_CASE("try_take passes at when_available for random parameters") {
  SeededRandom random(5);
  for (int i = 0; i < 2000; ++i) {
    const double burst = 1 + static_cast<double>(random.below(100));
    const double rate = 0.5 + random.unit() * 1000;
    TimePoint now = t0;
    TokenBucket bucket(burst, rate, now);
    for (int step = 0; step < 5; ++step) {
      const double cost = random.unit() * burst;
      const TimePoint when = bucket.when_available(now, cost);
      REQUIRE(when != kNever);
      if (when > now) REQUIRE_FALSE(bucket.try_take(when - 1us, cost));
      REQUIRE(bucket.try_take(when, cost));
      now = when + Duration{static_cast<int64_t>(random.below(1000))};
    }
  }
}

TEST_CASE("a bucket stays small") {
  CHECK(sizeof(TokenBucket) <= 32);
}

}  // namespace turnscout
