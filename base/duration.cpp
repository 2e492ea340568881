#include "base/duration.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>

#include "base/quote.hpp"

namespace turnscout {
namespace {

using DurationResult = Result<Duration, std::string>;

constexpr uint64_t kMaxMicros = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

struct Unit {
  std::string_view name;
  uint64_t micros;
};
constexpr std::array<Unit, 5> kUnits{{
    {"us", 1},
    {"ms", 1'000},
    {"s", 1'000'000},
    {"m", 60'000'000},
    {"h", 3'600'000'000},
}};

DurationResult fail(std::string_view expected, std::string_view text) {
  return unexpected("expected " + std::string(expected) + ", got " + quoted(text));
}

DurationResult junk(std::string_view text) {
  return fail("a duration like 250ms, 2s or 1m", text);
}

// Parses a run of decimal digits; nullopt on overflow.
std::optional<uint64_t> parse_digits(std::string_view digits) {
  uint64_t v = 0;
  for (char c : digits) {
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// fraction / 10^digits of `unit`, when that is a whole number of microseconds.
std::optional<uint64_t> fraction_micros(std::string_view fraction, uint64_t unit) {
  while (!fraction.empty() && fraction.back() == '0')
    fraction.remove_suffix(1);
  if (fraction.empty()) return 0;
  // 10^19 would overflow; no unit here is that fine (none has more than ten factors of 2
  // or of 5), so such a fraction is never whole anyway.
  if (fraction.size() > 18) return std::nullopt;
  uint64_t denominator = 1;
  for (size_t i = 0; i < fraction.size(); ++i)
    denominator *= 10;
  const uint64_t f = *parse_digits(fraction);
  const uint64_t g = std::gcd(unit, denominator);
  if (f % (denominator / g) != 0) return std::nullopt;
  return f / (denominator / g) * (unit / g);  // < unit: cannot overflow.
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

Result<Duration, std::string> parse_duration(std::string_view text) {
  if (!text.empty() && text.front() == '-') return fail("a non-negative duration", text);
  size_t i = 0;
  while (i < text.size() && is_digit(text[i]))
    ++i;
  const std::string_view whole = text.substr(0, i);
  std::string_view fraction;
  if (i < text.size() && text[i] == '.') {
    const size_t start = ++i;
    while (i < text.size() && is_digit(text[i]))
      ++i;
    fraction = text.substr(start, i - start);
    if (fraction.empty()) return junk(text);
  }
  if (whole.empty()) return junk(text);
  const std::string_view unit_name = text.substr(i);

  if (unit_name.empty()) {
    if (whole.find_first_not_of('0') == std::string_view::npos &&
        fraction.find_first_not_of('0') == std::string_view::npos) {
      return Duration::zero();
    }
    return fail("a unit after the number (us, ms, s, m or h)", text);
  }
  const Unit* unit = nullptr;
  for (const Unit& u : kUnits) {
    if (u.name == unit_name) unit = &u;
  }
  if (unit == nullptr) return junk(text);

  const auto frac = fraction_micros(fraction, unit->micros);
  if (!frac) return fail("a whole number of microseconds", text);
  const auto count = parse_digits(whole);
  if (!count || *count > (kMaxMicros - *frac) / unit->micros) {
    return fail("a duration of at most " + std::to_string(kMaxMicros / 3'600'000'000) + "h", text);
  }
  return Duration{static_cast<int64_t>(*count * unit->micros + *frac)};
}

std::string format_duration(Duration d) {
  if (d == Duration::zero()) return "0";
  const int64_t count = d.count();
  const std::string sign = count < 0 ? "-" : "";
  // Two's complement: the magnitude of INT64_MIN is representable as uint64_t.
  const uint64_t v = count < 0 ? 0 - static_cast<uint64_t>(count) : static_cast<uint64_t>(count);

  if (v % kUnits[4].micros == 0) return sign + std::to_string(v / kUnits[4].micros) + "h";
  if (v % kUnits[3].micros == 0) return sign + std::to_string(v / kUnits[3].micros) + "m";
  const Unit& unit = v >= kUnits[2].micros   ? kUnits[2]
                     : v >= kUnits[1].micros ? kUnits[1]
                                             : kUnits[0];
  const std::string whole = sign + std::to_string(v / unit.micros);
  const uint64_t rest = v % unit.micros;
  if (rest == 0) return whole + std::string(unit.name);
  const size_t width = unit.micros == 1'000'000 ? 6 : 3;
  std::string decimals = std::to_string(rest);
  decimals.insert(0, width - decimals.size(), '0');
  while (decimals.back() == '0')
    decimals.pop_back();
  return whole + "." + decimals + std::string(unit.name);
}

}  // namespace turnscout
