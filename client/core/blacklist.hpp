// Servers a caller does not want: parsed once from tokens, then asked about every root and
// every child before it is probed, and about every NODE-NAME a reply carries.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/address.hpp"
#include "base/result.hpp"

namespace turnscout::client {

class Blacklist {
 public:
  // Tokens: `index:N` (a root by its position, from 0), `addr:IP:PORT` (IPv6 in brackets)
  // and `name:NODE`. The first bad token gives an error naming it, e.g.
  // `blacklist token "adr:1.2.3.4": expected index:N, addr:IP:PORT or name:NODE`.
  // An index is only checked against the number of roots when `root_count` is given.
  static Result<Blacklist, std::string> parse(std::span<const std::string> tokens,
                                              size_t root_count = SIZE_MAX);

  bool blocks_root(size_t index) const;
  // IPv4-mapped IPv6 addresses match their IPv4 form.
  bool blocks_address(const Endpoint& address) const;
  // ASCII case-insensitive; an empty name never matches.
  bool blocks_name(std::string_view name) const;
  bool empty() const { return indexes_.empty() && addresses_.empty() && names_.empty(); }

 private:
  std::vector<size_t> indexes_;
  std::vector<Endpoint> addresses_;
  std::vector<std::string> names_;
};

}  // namespace turnscout::client
