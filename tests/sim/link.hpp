// One direction of a simulated path: its impairments, its counters, and the random draws
// that decide what becomes of each datagram sent on it.
#pragma once

#include <array>
#include <cstdint>

#include "base/clock.hpp"
#include "base/random.hpp"

namespace turnscout::sim {

// Impairments of one direction of a path.
//
// A datagram that survives takes delay + J to cross, J drawn uniformly from [0, jitter] in
// whole microseconds, both ends included. With `reorder` (the default, as on the internet) a
// datagram overtakes an earlier one whenever its draw is smaller by more than the gap
// between the two sends. With `reorder == false` the link is FIFO: a datagram that would
// overtake instead arrives together with the one ahead of it (same instant, still after it).
struct LinkParams {
  Duration delay{0};
  Duration jitter{0};
  double loss = 0.0;       // Probability in [0, 1] that a datagram is dropped.
  double duplicate = 0.0;  // Probability in [0, 1] that a surviving datagram arrives twice.
  bool reorder = true;
};

// True when every field is in range (non-negative durations, probabilities in [0, 1]).
bool valid(const LinkParams& params);

// What happened on a link. Once nothing is in flight on it:
//   sent + duplicated == delivered + lost + tap_dropped + blocked.
struct LinkCounters {
  uint64_t sent = 0;         // Datagrams a node emitted on the link.
  uint64_t delivered = 0;    // Handed to the receiving node, duplicates included.
  uint64_t lost = 0;         // Dropped by the loss draw.
  uint64_t duplicated = 0;   // Extra copies made by the duplicate draw.
  uint64_t tap_dropped = 0;  // Dropped because the tap said so.
  uint64_t blocked = 0;      // Dropped by a partition or a down node, at send or at arrival.

  LinkCounters& operator+=(const LinkCounters& other);
  friend bool operator==(const LinkCounters&, const LinkCounters&) = default;
};

// The outcome of the draws for one datagram: 0 (lost), 1 or 2 copies, and their arrivals.
struct Fate {
  int copies = 0;
  std::array<TimePoint, 2> arrival{};
};

class Link {
 public:
  // Draws the fate of a datagram sent at `now` and counts it as lost or duplicated. Draws
  // from `random` only for a nonzero loss, duplicate or jitter, in that order.
  Fate transmit(TimePoint now, const LinkParams& params, Random& random);

  LinkCounters& counters() { return counters_; }
  const LinkCounters& counters() const { return counters_; }

 private:
  TimePoint arrival_at(TimePoint now, const LinkParams& params, Random& random);

  LinkCounters counters_;
  // The latest arrival scheduled so far. Kept even while reordering is allowed, so that a
  // link switched to FIFO never delivers before what is already in flight.
  TimePoint horizon_{};
};

}  // namespace turnscout::sim
