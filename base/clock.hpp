// Time for the sans-I/O cores. Cores never read a clock: every input carries `now`.
// Adapters and tests obtain `now` from a Clock; tests use FakeClock.
#pragma once

#include <chrono>
#include <cstdint>

namespace turnscout {

// Monotonic time with microsecond resolution. The epoch is arbitrary (process start for
// SteadyClock, zero for FakeClock); only differences are meaningful.
using Duration = std::chrono::microseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

// Wall-clock time, only for values that cross machines (heartbeat timestamps, token expiry).
using WallTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

using namespace std::chrono_literals;  // NOLINT: 100ms, 2s, ... everywhere durations appear.

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  virtual WallTime wall_now() const = 0;
};

// The one source of real time for every adapter (server, client, cluster, proxy): the
// monotonic clock (CLOCK_MONOTONIC with libstdc++ on Linux, the clock of uv_hrtime() and of
// timerfd), in microseconds. Adapters that are handed a Clock use that instead.
inline TimePoint steady_now() {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return steady_now(); }
  WallTime wall_now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }
};

// A clock that moves only when told to. Wall time starts at a fixed, plausible date so
// tests that sign timestamps are reproducible.
class FakeClock final : public Clock {
 public:
  static constexpr int64_t kDefaultWallStartMs = 1'800'000'000'000;  // 2027-01-15.

  TimePoint now() const override { return now_; }
  WallTime wall_now() const override {
    return WallTime{std::chrono::milliseconds{kDefaultWallStartMs}} +
           std::chrono::duration_cast<std::chrono::milliseconds>(now_.time_since_epoch());
  }
  void advance(Duration d) { now_ += d; }
  // Moving backwards is a test bug; set() only moves forward.
  void set(TimePoint t) {
    if (t > now_) now_ = t;
  }

 private:
  TimePoint now_{};
};

inline constexpr TimePoint kNever = TimePoint::max();

}  // namespace turnscout
