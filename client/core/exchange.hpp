// One request to one server, retransmitted on an RTO schedule. Every attempt carries a
// fresh transaction id, so a reply names the attempt it answers and gives an unambiguous
// RTT sample (no Karn ambiguity), and a late reply to an early attempt still counts.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "base/backoff.hpp"
#include "base/clock.hpp"
#include "base/random.hpp"
#include "client/core/options.hpp"
#include "proto/constants.hpp"

namespace turnscout::client {

class Exchange {
 public:
  // `first_rto` is the wait after the first attempt; each later one doubles, up to
  // rto.max (or first_rto if larger), shortened by up to rto.jitter at random, never
  // below rto.min.
  Exchange(uint32_t max_attempts, Duration first_rto, const RtoConfig& rto);

  // Records an attempt sent at `now`; returns its number (from 0). The next action (a
  // retransmission, or giving up after the last attempt) falls due one RTO later.
  uint32_t sent(TimePoint now, Random& random);

  uint32_t attempts() const { return attempts_; }
  uint32_t max_attempts() const { return max_attempts_; }
  bool exhausted() const { return attempts_ >= max_attempts_; }
  // One attempt more than it was given (at most kMaxAttemptsLimit in all); false when none
  // is left. For a transport that joins after the first one spent every attempt.
  bool extend() {
    if (max_attempts_ >= kMaxAttemptsLimit) return false;
    ++max_attempts_;
    return true;
  }
  // Takes back an extend() whose attempt was not sent.
  void retract() {
    if (max_attempts_ > attempts_ && max_attempts_ > 1) --max_attempts_;
  }
  TimePoint sent_at(uint32_t attempt) const { return sent_at_[attempt]; }
  TimePoint first_sent() const { return sent_at_[0]; }

  // When on_timeout has something to do for this exchange; kNever while paused or stopped.
  TimePoint due() const { return paused_ ? kNever : due_; }
  // Moves the next action (a send held back by a rate limit).
  void defer(TimePoint at) { due_ = at; }
  // A paused exchange keeps its schedule; resume() picks it up where it was.
  void pause() { paused_ = true; }
  // When the next action was scheduled, paused or not.
  TimePoint scheduled() const { return due_; }
  void resume() { paused_ = false; }
  void stop() { due_ = kNever; }

 private:
  Backoff backoff_;
  Duration min_rto_;
  uint32_t max_attempts_;
  uint32_t attempts_ = 0;
  std::array<TimePoint, kMaxAttemptsLimit> sent_at_{};
  TimePoint due_{};  // The first send is due at once.
  bool paused_ = false;
};

}  // namespace turnscout::client
