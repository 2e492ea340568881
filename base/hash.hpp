// Integer mixing for hash tables and rendezvous scores.
#pragma once

#include <cstdint>

namespace turnscout {

// The finaliser of MurmurHash3: a bijection on 64 bits in which every input bit affects
// every output bit, so related inputs (neighbouring addresses) get unrelated values.
constexpr uint64_t fmix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

}  // namespace turnscout
