#include "base/backoff.hpp"

#include <doctest/doctest.h>

#include <vector>

namespace turnscout {
namespace {

std::vector<Duration> draw(Backoff& backoff, Random& random, int n) {
  std::vector<Duration> out;
  for (int i = 0; i < n; ++i)
    out.push_back(backoff.next(random));
  return out;
}

}  // namespace

TEST_CASE("without jitter, delays grow by the factor up to the cap") {
  SeededRandom random(1);
  Backoff backoff({.base = 100ms, .factor = 2, .cap = 1s, .jitter = 0});
  CHECK(draw(backoff, random, 6) == std::vector<Duration>{100ms, 200ms, 400ms, 800ms, 1s, 1s});
  CHECK(backoff.attempts() == 6);
  backoff.reset();
  CHECK(backoff.attempts() == 0);
  CHECK(backoff.next(random) == 100ms);

  Backoff slow({.base = 100ms, .factor = 1.5, .cap = 1s, .jitter = 0});
  CHECK(draw(slow, random, 5) == std::vector<Duration>{100ms, 150ms, 225ms, 337'500us, 506'250us});
}

TEST_CASE("without jitter, the random source is left alone") {
  SeededRandom used(9), fresh(9);
  Backoff backoff({.base = 10ms, .factor = 2, .cap = 1s, .jitter = 0});
  draw(backoff, used, 10);
  CHECK(used.next_u64() == fresh.next_u64());
}

TEST_CASE("jittered delays are exact for a seed") {
  SeededRandom random(42);
  Backoff backoff({.base = 100ms, .factor = 2, .cap = 1s, .jitter = 0.5});
  const std::vector<Duration> got = draw(backoff, random, 6);
  // Computed independently (a Python model of xoshiro256** and rejection sampling).
  CHECK(got ==
        std::vector<Duration>{92'179us, 198'365us, 239'132us, 539'190us, 956'589us, 612'913us});
  SeededRandom again(42);
  Backoff replay({.base = 100ms, .factor = 2, .cap = 1s, .jitter = 0.5});
  CHECK(draw(replay, again, 6) == got);
}

TEST_CASE("jittered delays stay in [nominal * (1 - jitter), nominal] and spread over it") {
  const std::vector<Duration> nominal{100ms, 200ms, 400ms, 800ms, 1s, 1s};
  std::vector<Duration> low(nominal.size(), Duration::max()), high(nominal.size());
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    SeededRandom random(seed);
    Backoff backoff({.base = 100ms, .factor = 2, .cap = 1s, .jitter = 0.25});
    for (size_t i = 0; i < nominal.size(); ++i) {
      const Duration d = backoff.next(random);
      REQUIRE(d <= nominal[i]);
      REQUIRE(d >= nominal[i] * 3 / 4);
      low[i] = std::min(low[i], d);
      high[i] = std::max(high[i], d);
    }
  }
  for (size_t i = 0; i < nominal.size(); ++i) {
    CAPTURE(i);
    CHECK(low[i] < nominal[i] * 3 / 4 + nominal[i] / 100);
    CHECK(high[i] > nominal[i] - nominal[i] / 100);
  }
}

TEST_CASE("full jitter reaches down to zero") {
  Duration low = Duration::max();
  for (uint64_t seed = 0; seed < 500; ++seed) {
    SeededRandom random(seed);
    Backoff backoff({.base = 1s, .factor = 1, .cap = 1s, .jitter = 1});
    low = std::min(low, backoff.next(random));
  }
  CHECK(low < 10ms);
}

TEST_CASE("odd configurations are made sane") {
  SeededRandom random(3);
  Backoff shrinking({.base = 100ms, .factor = 0.5, .cap = 1s, .jitter = -1});
  CHECK(draw(shrinking, random, 3) == std::vector<Duration>{100ms, 100ms, 100ms});
  CHECK(shrinking.config().factor == 1.0);
  CHECK(shrinking.config().jitter == 0.0);
  Backoff capped({.base = 5s, .factor = 2, .cap = 1s, .jitter = 0});
  CHECK(capped.next(random) == 1s);
  Backoff wild({.base = 1ms, .factor = 1e300, .cap = 30s, .jitter = 2});
  CHECK(wild.config().jitter == 1.0);
  for (int i = 0; i < 1000; ++i) {
    const Duration d = wild.next(random);
    REQUIRE(d >= 0us);
    REQUIRE(d <= 30s);
  }
  CHECK(wild.attempts() == 1000);
  Backoff longest({.base = Duration::max(), .factor = 2, .cap = Duration::max(), .jitter = 1});
  for (int i = 0; i < 100; ++i) {
    const Duration d = longest.next(random);
    REQUIRE(d >= 0us);
  }
}

}  // namespace turnscout
