#include "client/core/address_policy.hpp"

#include <algorithm>

#include "base/endpoint.hpp"

namespace turnscout::client {
namespace {

bool v4_in(const Endpoint& e, uint8_t a, uint8_t b, unsigned prefix) {
  const uint32_t ip =
      (uint32_t{e.ip[0]} << 24) | (uint32_t{e.ip[1]} << 16) | (uint32_t{e.ip[2]} << 8) | e.ip[3];
  const uint32_t net = (uint32_t{a} << 24) | (uint32_t{b} << 16);
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return (ip & mask) == (net & mask);
}

}  // namespace

AddressScope scope_of(const Endpoint& address) {
  const Endpoint e = unmap_v4(address);
  if (is_loopback(e)) return AddressScope::kLoopback;
  if (e.family == Family::kV4) {
    const bool is_private = v4_in(e, 10, 0, 8) || v4_in(e, 172, 16, 12) || v4_in(e, 192, 168, 16) ||
                            v4_in(e, 100, 64, 10) || v4_in(e, 169, 254, 16);
    return is_private ? AddressScope::kPrivate : AddressScope::kPublic;
  }
  const bool unique_local = (e.ip[0] & 0xfe) == 0xfc;
  const bool link_local = e.ip[0] == 0xfe && (e.ip[1] & 0xc0) == 0x80;
  return unique_local || link_local ? AddressScope::kPrivate : AddressScope::kPublic;
}

const char* to_string(AddressScope scope) {
  switch (scope) {
    case AddressScope::kPublic:
      return "public";
    case AddressScope::kPrivate:
      return "private";
    case AddressScope::kLoopback:
      return "loopback";
  }
  return "?";
}

std::optional<std::string> never_probed(const Endpoint& address) {
  const Endpoint e = unmap_v4(address);
  if (!e.valid()) return "no address";
  if (e.port == 0) return "port 0";
  if (e.family == Family::kV4) {
    if (e.ip[0] == 0) return "an unspecified address";
    if (e.ip[0] >= 240)
      return e.ip == std::array<uint8_t, 16>{255, 255, 255, 255} ? "the broadcast address"
                                                                 : "a reserved address";
    if (e.ip[0] >= 224) return "a multicast address";
    return std::nullopt;
  }
  if (is_any(e)) return "an unspecified address";
  if (e.ip[0] == 0xff) return "a multicast address";
  return std::nullopt;
}

std::optional<std::string> refuse_named(const Endpoint& named_by, const Endpoint& named,
                                        bool allow_any_scope) {
  if (auto why = never_probed(named)) return why;
  if (allow_any_scope) return std::nullopt;
  const AddressScope from = scope_of(named_by);
  const AddressScope to = scope_of(named);
  if (static_cast<int>(to) <= static_cast<int>(from)) return std::nullopt;
  return std::string("a ") + to_string(to) + " address named by a " + to_string(from) +
         " server (allow_any_scope permits it)";
}

}  // namespace turnscout::client
