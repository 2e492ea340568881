// Smoothed estimates: a plain exponentially weighted moving average, and the RFC 6298
// round-trip estimator that gives a retransmission timeout.
#pragma once

#include <algorithm>

#include "base/clock.hpp"

namespace turnscout {

// value <- (1 - alpha) * value + alpha * sample; the first sample sets the value.
class Ewma {
 public:
  // `alpha` is the weight of the newest sample, in (0, 1]; out-of-range values are clamped.
  explicit Ewma(double alpha) : alpha_(alpha >= kMinAlpha ? std::min(alpha, 1.0) : kMinAlpha) {}

  void add(double sample) {
    value_ = has_value_ ? value_ + alpha_ * (sample - value_) : sample;
    has_value_ = true;
  }
  void reset() { *this = Ewma(alpha_); }

  bool has_value() const { return has_value_; }
  // 0 until the first sample.
  double value() const { return value_; }
  double alpha() const { return alpha_; }

 private:
  static constexpr double kMinAlpha = 1e-6;

  double alpha_;
  double value_ = 0;
  bool has_value_ = false;
};

struct RttEstimatorConfig {
  Duration initial_rto = 1s;  // Before any sample (RFC 6298 §2.1).
  // RFC 6298 asks for 1 s, tuned for TCP; a one-packet exchange can afford less.
  Duration min_rto = 200ms;
  Duration max_rto = 60s;
  Duration granularity = 1ms;  // G in RFC 6298: the floor of the variance term.
};

// RFC 6298 §2 with alpha = 1/8, beta = 1/4, K = 4, in whole microseconds (divisions round
// toward zero). The caller feeds only unambiguous samples: not from a request that was
// retransmitted under the same transaction id (Karn's algorithm).
class RttEstimator {
 public:
  explicit RttEstimator(RttEstimatorConfig config = {}) : config_(config) {}

  // Negative samples count as 0; samples above an hour as an hour, which keeps the
  // arithmetic far from overflow.
  void add_sample(Duration rtt) {
    rtt = std::clamp(rtt, Duration::zero(), Duration{1h});
    if (!has_sample_) {
      srtt_ = rtt;
      rttvar_ = rtt / 2;
      has_sample_ = true;
      return;
    }
    const Duration error = srtt_ > rtt ? srtt_ - rtt : rtt - srtt_;
    rttvar_ = (3 * rttvar_ + error) / 4;
    srtt_ = (7 * srtt_ + rtt) / 8;
  }

  // SRTT + max(G, 4 * RTTVAR), clamped to [min_rto, max_rto]; initial_rto (also clamped)
  // before the first sample.
  Duration rto() const {
    const Duration raw =
        has_sample_ ? srtt_ + std::max(config_.granularity, 4 * rttvar_) : config_.initial_rto;
    return std::clamp(raw, config_.min_rto, std::max(config_.min_rto, config_.max_rto));
  }

  bool has_sample() const { return has_sample_; }
  // Both zero until the first sample.
  Duration srtt() const { return srtt_; }
  Duration rttvar() const { return rttvar_; }
  const RttEstimatorConfig& config() const { return config_; }

 private:
  RttEstimatorConfig config_;
  Duration srtt_{};
  Duration rttvar_{};
  bool has_sample_ = false;
};

}  // namespace turnscout
