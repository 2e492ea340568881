#include "base/random.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace turnscout {
namespace {

uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

// splitmix64 step: spreads any seed (including 0) into well-mixed state words.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

void Random::fill(std::span<uint8_t> out) {
  size_t i = 0;
  while (i < out.size()) {
    uint64_t word = next_u64();
    for (int b = 0; b < 8 && i < out.size(); ++b, ++i) {
      out[i] = static_cast<uint8_t>(word >> (8 * b));
    }
  }
}

uint64_t Random::below(uint64_t bound) {
  if (bound == 0) return 0;
  // Values under `threshold` would make some residues one more likely than others;
  // 2^64 mod bound of them exist, and they are redrawn.
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    uint64_t r = next_u64();
    if (r >= threshold) return r % bound;
  }
}

double Random::unit() {
  // The top 53 bits fill a double's mantissa exactly.
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

SeededRandom::SeededRandom(uint64_t seed) {
  for (uint64_t& word : s_)
    word = splitmix64(seed);
}

uint64_t SeededRandom::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t SystemRandom::next_u64() {
  uint8_t bytes[8];
  fill(bytes);
  uint64_t v = 0;
  for (uint8_t b : bytes)
    v = (v << 8) | b;
  return v;
}

void SystemRandom::fill(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      // Without kernel randomness transaction ids would be guessable: refuse to go on.
      std::fprintf(stderr, "turnscout: getrandom failed: %s\n", std::strerror(errno));
      std::abort();
    }
  }
}

}  // namespace turnscout
