// Polling with a deadline, for tests that watch real processes: the condition is checked
// every `interval` until it holds or `timeout` has passed.
#pragma once

#include <thread>

#include "base/clock.hpp"

namespace turnscout::test {

// True as soon as `condition()` is; false if it still is not after `timeout`.
template <typename Condition>
bool wait_until(Duration timeout, Duration interval, Condition&& condition) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

// Elapsed real time since `start`, for tests that bound how long something took.
inline Duration since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - start);
}

}  // namespace turnscout::test
