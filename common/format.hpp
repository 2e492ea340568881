// fmt support for base types, so `{}` prints an Endpoint. Header-only: the cores may use it
// (fmt is formatting, not I/O).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/endpoint.hpp"

template <>
struct fmt::formatter<turnscout::Endpoint> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const turnscout::Endpoint& ep, FormatContext& ctx) const -> decltype(ctx.out()) {
    return fmt::formatter<std::string_view>::format(turnscout::format_endpoint(ep).view(), ctx);
  }
};

namespace turnscout {

// "1 attempt", "3 attempts": a count with its noun, plural when it is not 1.
inline std::string counted(uint64_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

}  // namespace turnscout
