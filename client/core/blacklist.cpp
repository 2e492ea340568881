#include "client/core/blacklist.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "base/quote.hpp"
#include "common/format.hpp"

namespace turnscout::client {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

std::string bad_token(std::string_view token, std::string_view expected) {
  return fmt::format("blacklist token {}: {}", quoted(token), expected);
}

}  // namespace

Result<Blacklist, std::string> Blacklist::parse(std::span<const std::string> tokens,
                                                size_t root_count) {
  Blacklist out;
  for (const std::string& token : tokens) {
    const size_t colon = token.find(':');
    const std::string_view kind = std::string_view(token).substr(0, colon);
    const std::string_view value =
        colon == std::string::npos ? std::string_view{} : std::string_view(token).substr(colon + 1);
    if (colon == std::string::npos || (kind != "index" && kind != "addr" && kind != "name")) {
      return unexpected(bad_token(token, "expected index:N, addr:IP:PORT or name:NODE"));
    }
    if (kind == "index") {
      size_t index = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), index);
      if (value.empty() || ec != std::errc{} || end != value.data() + value.size()) {
        return unexpected(bad_token(token, "expected index:N with N a root's position from 0"));
      }
      if (index >= root_count) {
        return unexpected(
            bad_token(token, fmt::format("there are only {} roots (positions 0 to {})", root_count,
                                         root_count == 0 ? 0 : root_count - 1)));
      }
      out.indexes_.push_back(index);
    } else if (kind == "addr") {
      auto address = parse_endpoint(value);
      if (!address || address->port == 0) {
        return unexpected(bad_token(
            token, "expected addr:IP:PORT, e.g. addr:192.0.2.1:3478 or addr:[2001:db8::1]:3478"));
      }
      out.addresses_.push_back(unmap_v4(*address));
    } else {
      if (value.empty()) return unexpected(bad_token(token, "expected name:NODE with a name"));
      out.names_.emplace_back(value);
    }
  }
  return out;
}

bool Blacklist::blocks_root(size_t index) const {
  return std::find(indexes_.begin(), indexes_.end(), index) != indexes_.end();
}

bool Blacklist::blocks_address(const Endpoint& address) const {
  return std::find(addresses_.begin(), addresses_.end(), unmap_v4(address)) != addresses_.end();
}

bool Blacklist::blocks_name(std::string_view name) const {
  if (name.empty()) return false;
  return std::any_of(names_.begin(), names_.end(),
                     [&](const std::string& n) { return iequals(n, name); });
}

}  // namespace turnscout::client
