#include "base/duration.hpp"

#include <doctest/doctest.h>

#include <string>

#include "base/random.hpp"

namespace turnscout {

TEST_CASE("parse_duration reads every unit, fractions and bare zero") {
  struct Case {
    const char* text;
    Duration want;
  };
  const Case cases[] = {
      {"250ms", 250ms},
      {"2s", 2s},
      {"1.5s", 1500ms},
      {"1m", 1min},
      {"1h", 1h},
      {"100us", 100us},
      {"0", 0us},
      {"00", 0us},
      {"0.0", 0us},
      {"0s", 0us},
      {"0.5ms", 500us},
      {"0.000001s", 1us},
      {"1.250s", 1250ms},
      {"007s", 7s},
      {"1.5h", 90min},
      {"0.9999999975h", Duration{3'599'999'991}},
      {"2562047788h", Duration{2'562'047'788LL * 3'600'000'000LL}},
      {"9223372036854775807us", Duration::max()},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto parsed = parse_duration(c.text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == c.want);
  }
}

TEST_CASE("parse_duration explains what is wrong") {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"abc", R"(expected a duration like 250ms, 2s or 1m, got "abc")"},
      {"", R"(expected a duration like 250ms, 2s or 1m, got "")"},
      {"1sec", R"(expected a duration like 250ms, 2s or 1m, got "1sec")"},
      {"1 s", R"(expected a duration like 250ms, 2s or 1m, got "1 s")"},
      {" 1s", R"(expected a duration like 250ms, 2s or 1m, got " 1s")"},
      {"1s ", R"(expected a duration like 250ms, 2s or 1m, got "1s ")"},
      {"1.s", R"(expected a duration like 250ms, 2s or 1m, got "1.s")"},
      {".5s", R"(expected a duration like 250ms, 2s or 1m, got ".5s")"},
      {"+1s", R"(expected a duration like 250ms, 2s or 1m, got "+1s")"},
      {"1e3ms", R"(expected a duration like 250ms, 2s or 1m, got "1e3ms")"},
      {"1m30s", R"(expected a duration like 250ms, 2s or 1m, got "1m30s")"},
      {"1S", R"(expected a duration like 250ms, 2s or 1m, got "1S")"},
      {"-1s", R"(expected a non-negative duration, got "-1s")"},
      {"-0", R"(expected a non-negative duration, got "-0")"},
      {"250", R"(expected a unit after the number (us, ms, s, m or h), got "250")"},
      {"0.5", R"(expected a unit after the number (us, ms, s, m or h), got "0.5")"},
      {"1.5us", R"(expected a whole number of microseconds, got "1.5us")"},
      {"0.0000001s", R"(expected a whole number of microseconds, got "0.0000001s")"},
      {"0.0000000000000000000001h",
       R"(expected a whole number of microseconds, got "0.0000000000000000000001h")"},
      {"2562047789h", R"(expected a duration of at most 2562047788h, got "2562047789h")"},
      {"9223372036854775808us",
       R"(expected a duration of at most 2562047788h, got "9223372036854775808us")"},
      {"99999999999999999999999s",
       R"(expected a duration of at most 2562047788h, got "99999999999999999999999s")"},
      {"1\n", R"(expected a duration like 250ms, 2s or 1m, got "1\n")"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto parsed = parse_duration(c.text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error() == c.error);
  }
}

TEST_CASE("format_duration gives the short exact form") {
  CHECK(format_duration(0us) == "0");
  CHECK(format_duration(1h) == "1h");
  CHECK(format_duration(90min) == "90m");
  CHECK(format_duration(120s) == "2m");
  CHECK(format_duration(61s) == "61s");
  CHECK(format_duration(1s) == "1s");
  CHECK(format_duration(1500ms) == "1.5s");
  CHECK(format_duration(Duration{1'000'001}) == "1.000001s");
  CHECK(format_duration(3600s + 500ms) == "3600.5s");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(Duration{1234}) == "1.234ms");
  CHECK(format_duration(Duration{1010}) == "1.01ms");
  CHECK(format_duration(999us) == "999us");
  CHECK(format_duration(7us) == "7us");
  CHECK(format_duration(-250ms) == "-250ms");
  CHECK(format_duration(Duration::max()) == "9223372036854.775807s");
  CHECK(format_duration(Duration::min()) == "-9223372036854.775808s");
}

TEST_CASE("format_duration output parses back to the same value") {
  SeededRandom random(99);
  for (int i = 0; i < 5000; ++i) {
    // Spread over magnitudes, and hit round values often.
    const uint64_t magnitude = 1ull << random.below(63);
    uint64_t v = random.below(magnitude);
    if (i % 3 == 0) v -= v % 1'000'000;
    if (i % 5 == 0) v -= v % 60'000'000;
    const Duration d{static_cast<int64_t>(v)};
    const std::string text = format_duration(d);
    CAPTURE(text);
    auto back = parse_duration(text);
    REQUIRE(back.ok());
    REQUIRE(*back == d);
  }
}

}  // namespace turnscout
