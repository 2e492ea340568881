// Randomness for the cores comes from an injected source so tests are exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace turnscout {

class Random {
 public:
  virtual ~Random() = default;
  virtual uint64_t next_u64() = 0;

  // Fills `out` with random bytes (transaction ids, jitter seeds).
  virtual void fill(std::span<uint8_t> out);
  // Uniform in [0, bound); bound 0 returns 0. Unbiased (rejection sampling).
  uint64_t below(uint64_t bound);
  // Uniform double in [0, 1).
  double unit();
};

// Deterministic generator (xoshiro256**, seeded by splitmix64). Not for secrets.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed);
  uint64_t next_u64() override;

 private:
  uint64_t s_[4];
};

// Cryptographically strong randomness from the kernel (getrandom), for transaction ids in
// production where ids must be unguessable by off-path attackers.
class SystemRandom final : public Random {
 public:
  uint64_t next_u64() override;
  void fill(std::span<uint8_t> out) override;
};

}  // namespace turnscout
