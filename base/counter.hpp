// A counter one thread increments and others may read (a metrics endpoint). Relaxed
// atomics: with a single writer this costs no more than a plain increment and keeps the
// reader free of data races.
#pragma once

#include <atomic>
#include <cstdint>

namespace turnscout {

struct Counter {
  std::atomic<uint64_t> value{0};
  void add(uint64_t n = 1) {
    value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return value.load(std::memory_order_relaxed); }
};

}  // namespace turnscout
