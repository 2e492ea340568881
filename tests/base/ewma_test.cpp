#include "base/ewma.hpp"

#include <doctest/doctest.h>

#include <limits>

namespace turnscout {

TEST_CASE("Ewma: the first sample sets the value, later ones move it by alpha") {
  Ewma e(0.25);
  CHECK_FALSE(e.has_value());
  CHECK(e.value() == 0.0);
  e.add(100);
  CHECK(e.has_value());
  CHECK(e.value() == 100.0);
  e.add(200);
  CHECK(e.value() == 125.0);
  e.add(0);
  CHECK(e.value() == 93.75);
  e.reset();
  CHECK_FALSE(e.has_value());
  CHECK(e.alpha() == 0.25);
  e.add(8);
  CHECK(e.value() == 8.0);
}

TEST_CASE("Ewma clamps alpha into (0, 1]") {
  Ewma one(2.0);
  CHECK(one.alpha() == 1.0);
  one.add(1);
  one.add(7);
  CHECK(one.value() == 7.0);
  CHECK(Ewma(0.0).alpha() > 0.0);
  CHECK(Ewma(-1.0).alpha() > 0.0);
  CHECK(Ewma(std::numeric_limits<double>::quiet_NaN()).alpha() > 0.0);
}

TEST_CASE("RttEstimator follows RFC 6298 with exact numbers") {
  RttEstimator rtt;
  CHECK_FALSE(rtt.has_sample());
  CHECK(rtt.rto() == 1s);
  rtt.add_sample(100ms);
  CHECK(rtt.srtt() == 100ms);
  CHECK(rtt.rttvar() == 50ms);
  CHECK(rtt.rto() == 300ms);
  rtt.add_sample(200ms);
  CHECK(rtt.rttvar() == 62'500us);  // 3/4 * 50ms + 1/4 * |100ms - 200ms|
  CHECK(rtt.srtt() == 112'500us);   // 7/8 * 100ms + 1/8 * 200ms
  CHECK(rtt.rto() == 362'500us);
  rtt.add_sample(112'500us);
  CHECK(rtt.rttvar() == 46'875us);
  CHECK(rtt.srtt() == 112'500us);
  CHECK(rtt.rto() == 300ms);
}

TEST_CASE("RttEstimator clamps the RTO to its floor and ceiling") {
  RttEstimator fast;
  fast.add_sample(1ms);
  CHECK(fast.rto() == 200ms);
  RttEstimator slow;
  slow.add_sample(50s);
  CHECK(slow.rto() == 60s);
  RttEstimator custom({.initial_rto = 10ms, .min_rto = 50ms, .max_rto = 2s, .granularity = 1ms});
  CHECK(custom.rto() == 50ms);
}

TEST_CASE("RttEstimator: steady samples leave the clock granularity as the margin") {
  RttEstimator rtt({.initial_rto = 1s, .min_rto = 0us, .max_rto = 60s, .granularity = 1ms});
  for (int i = 0; i < 100; ++i)
    rtt.add_sample(100ms);
  CHECK(rtt.srtt() == 100ms);
  CHECK(rtt.rttvar() == 0us);
  CHECK(rtt.rto() == 101ms);
}

TEST_CASE("RttEstimator bounds odd samples") {
  RttEstimator rtt(
      {.initial_rto = 1s, .min_rto = 0us, .max_rto = Duration::max(), .granularity = 0us});
  rtt.add_sample(-5ms);
  CHECK(rtt.srtt() == 0us);
  CHECK(rtt.rto() == 0us);
  RttEstimator huge(
      {.initial_rto = 1s, .min_rto = 0us, .max_rto = Duration::max(), .granularity = 0us});
  huge.add_sample(Duration::max());
  huge.add_sample(Duration::max());
  CHECK(huge.srtt() == 1h);
  CHECK(huge.rttvar() == 22min + 30s);
  CHECK(huge.rto() == 2h + 30min);
}

}  // namespace turnscout
