#include "base/random.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace turnscout {
namespace {

// Returns the scripted values in order, then repeats the last one.
class ScriptedRandom final : public Random {
 public:
  explicit ScriptedRandom(std::vector<uint64_t> values) : values_(std::move(values)) {}
  uint64_t next_u64() override {
    ++calls;
    return values_[std::min(next_++, values_.size() - 1)];
  }
  size_t calls = 0;

 private:
  std::vector<uint64_t> values_;
  size_t next_ = 0;
};

// Pearson's statistic for `draws` values of below(kBins) against a uniform expectation.
constexpr uint64_t kBins = 10;
double chi_square(Random& random, int draws) {
  std::array<int, kBins> counts{};
  for (int i = 0; i < draws; ++i)
    ++counts[random.below(kBins)];
  const double expected = static_cast<double>(draws) / kBins;
  double chi2 = 0;
  for (int c : counts)
    chi2 += (c - expected) * (c - expected) / expected;
  return chi2;
}
// 9 degrees of freedom, p = 0.001.
constexpr double kChiSquareCritical = 27.877;

}  // namespace

TEST_CASE("SeededRandom follows the xoshiro256** reference seeded by splitmix64") {
  SeededRandom zero(0);
  CHECK(zero.next_u64() == 0x99ec5f36cb75f2b4ull);
  CHECK(zero.next_u64() == 0xbf6e1f784956452aull);
  CHECK(zero.next_u64() == 0x1a5f849d4933e6e0ull);
  SeededRandom answer(42);
  CHECK(answer.next_u64() == 0x15780b2e0c2ec716ull);
  CHECK(answer.next_u64() == 0x6104d9866d113a7eull);
}

TEST_CASE("SeededRandom is deterministic per seed and differs between seeds") {
  SeededRandom a(7), b(7), c(8);
  int same_as_c = 0;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t va = a.next_u64();
    CHECK(va == b.next_u64());
    if (va == c.next_u64()) ++same_as_c;
  }
  CHECK(same_as_c == 0);
}

TEST_CASE("fill takes bytes from next_u64 least significant first") {
  ScriptedRandom r({0x0807060504030201ull, 0x1817161514131211ull});
  std::array<uint8_t, 10> out{};
  r.fill(out);
  CHECK(out == std::array<uint8_t, 10>{1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12});
  CHECK(r.calls == 2);
  r.fill(std::span<uint8_t>{});
  CHECK(r.calls == 2);
}

TEST_CASE("below stays in range, and is zero for bounds 0 and 1") {
  SeededRandom r(1);
  CHECK(r.below(0) == 0);
  CHECK(r.below(1) == 0);
  bool seen_low = false, seen_high = false;
  for (int i = 0; i < 10000; ++i) {
    const uint64_t v = r.below(7);
    REQUIRE(v < 7);
    seen_low |= v == 0;
    seen_high |= v == 6;
  }
  CHECK(seen_low);
  CHECK(seen_high);
  const uint64_t huge = (1ull << 63) + 12345;
  for (int i = 0; i < 1000; ++i)
    REQUIRE(r.below(huge) < huge);
}

TEST_CASE("below redraws the values that would bias the result") {
  // 2^64 mod 3 = 1: the single value 0 must be redrawn.
  ScriptedRandom small({0, 5});
  CHECK(small.below(3) == 2);
  CHECK(small.calls == 2);
  // 2^64 mod (2^63 + 1) = 2^63 - 1: every value below that is redrawn.
  const uint64_t bound = (1ull << 63) + 1;
  ScriptedRandom large({5, (1ull << 63) - 2, (1ull << 63) + 5});
  CHECK(large.below(bound) == 4);
  CHECK(large.calls == 3);
}

TEST_CASE("below is roughly uniform (chi-square, fixed seed)") {
  SeededRandom r(2024);
  const double chi2 = chi_square(r, 100000);
  CHECK(chi2 < kChiSquareCritical);
  // The same test rejects a source that favours one value 2% of the time (13 is above the
  // rejection threshold of 2^64 mod 10 = 6, and lands on 3).
  class Skewed final : public Random {
   public:
    uint64_t next_u64() override { return ++n_ % 50 == 0 ? 13 : inner_.next_u64(); }

   private:
    SeededRandom inner_{2024};
    uint64_t n_ = 0;
  } skewed;
  CHECK(chi_square(skewed, 100000) > kChiSquareCritical);
}

TEST_CASE("unit is in [0, 1) and uses the top 53 bits") {
  ScriptedRandom r({0, ~0ull, 1ull << 63});
  CHECK(r.unit() == 0.0);
  const double top = r.unit();
  CHECK(top < 1.0);
  CHECK(top == 1.0 - 0x1.0p-53);
  CHECK(r.unit() == 0.5);
  SeededRandom s(3);
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    const double u = s.unit();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
  }
  CHECK(sum / 10000 == doctest::Approx(0.5).epsilon(0.02));
}

TEST_CASE("SystemRandom fills any length with fresh bytes") {
  SystemRandom r;
  std::array<uint8_t, 32> a{}, b{};
  r.fill(a);
  r.fill(b);
  CHECK(a != b);
  std::vector<uint8_t> big(1 << 20, 0);
  r.fill(big);
  size_t zeros = 0;
  for (uint8_t byte : big)
    zeros += byte == 0;
  // Expect 4096 zero bytes; a short read would leave far more.
  CHECK(zeros < 5000);
  CHECK(r.next_u64() != r.next_u64());
}

}  // namespace turnscout
