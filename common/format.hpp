// fmt support for base types, so `{}` prints an Endpoint. Header-only: the cores may use it
// (fmt is formatting, not I/O).
#pragma once

#include <fmt/format.h>

#include "base/endpoint.hpp"

template <>
struct fmt::formatter<turnscout::Endpoint> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const turnscout::Endpoint& ep, FormatContext& ctx) const -> decltype(ctx.out()) {
    return fmt::formatter<std::string_view>::format(turnscout::format_endpoint(ep).view(), ctx);
  }
};
