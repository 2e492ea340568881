// Durations as people write them in configs and on command lines: "250ms", "2s", "1.5s".
#pragma once

#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace turnscout {

// A decimal number immediately followed by one unit: us, ms, s, m (minutes) or h. A
// fraction is allowed when it comes to whole microseconds ("1.5s", "0.25ms"); "0" alone
// needs no unit. No sign, no spaces, no combined units ("1m30s"). Errors name the input,
// e.g. `expected a duration like 250ms, 2s or 1m, got "abc"`.
Result<Duration, std::string> parse_duration(std::string_view text);

// The shortest exact form that parse_duration() reads back to the same value: "0"; whole
// hours or minutes as "2h", "90m"; otherwise the largest of s, ms, us that is not above
// the value, with as many decimals as needed ("1.5s", "1.234ms", "250ms", "7us").
// Negative values get a leading "-" (for display only; they do not parse back).
std::string format_duration(Duration d);

}  // namespace turnscout
