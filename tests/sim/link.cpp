#include "tests/sim/link.hpp"

#include <algorithm>

namespace turnscout::sim {

namespace {

bool is_probability(double p) {
  return p >= 0.0 && p <= 1.0;
}  // False for NaN too.

}  // namespace

bool valid(const LinkParams& params) {
  return params.delay >= Duration::zero() && params.jitter >= Duration::zero() &&
         is_probability(params.loss) && is_probability(params.duplicate);
}

LinkCounters& LinkCounters::operator+=(const LinkCounters& other) {
  sent += other.sent;
  delivered += other.delivered;
  lost += other.lost;
  duplicated += other.duplicated;
  tap_dropped += other.tap_dropped;
  blocked += other.blocked;
  return *this;
}

Fate Link::transmit(TimePoint now, const LinkParams& params, Random& random) {
  Fate fate;
  if (params.loss > 0.0 && random.unit() < params.loss) {
    ++counters_.lost;
    return fate;
  }
  fate.copies = 1;
  if (params.duplicate > 0.0 && random.unit() < params.duplicate) {
    ++counters_.duplicated;
    fate.copies = 2;
  }
  for (int i = 0; i < fate.copies; ++i)
    fate.arrival[i] = arrival_at(now, params, random);
  return fate;
}

TimePoint Link::arrival_at(TimePoint now, const LinkParams& params, Random& random) {
  Duration extra{0};
  if (params.jitter > Duration::zero()) {
    const auto span = static_cast<uint64_t>(params.jitter.count()) + 1;
    extra = Duration{static_cast<Duration::rep>(random.below(span))};
  }
  TimePoint at = now + params.delay + extra;
  if (!params.reorder) at = std::max(at, horizon_);
  horizon_ = std::max(horizon_, at);
  return at;
}

}  // namespace turnscout::sim
