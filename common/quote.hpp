// Quoting of user-supplied text inside error messages.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace turnscout {

// Longest input quoted in full; longer text is cut and followed by "...".
inline constexpr size_t kMaxQuoted = 64;

// `text` in double quotes with quotes, backslashes and control bytes escaped, so junk
// input cannot break an error line or a terminal.
inline std::string quoted(std::string_view text) {
  if (text.size() <= kMaxQuoted) return fmt::format("{:?}", text);
  return fmt::format("{:?}...", text.substr(0, kMaxQuoted));
}

}  // namespace turnscout
