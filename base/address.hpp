// A transport address (IPv4 or IPv6 plus UDP port) as it travels on the wire.
// base/endpoint.hpp adds parsing, printing and sockaddr conversion on top of it.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace turnscout {

enum class Family : uint8_t { kNone = 0, kV4 = 1, kV6 = 2 };  // Wire values of RFC 8489 §14.1.

struct Endpoint {
  Family family = Family::kNone;
  // IPv4 uses the first 4 bytes; the rest stay zero so comparison and hashing are exact.
  std::array<uint8_t, 16> ip{};
  uint16_t port = 0;

  static Endpoint v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
    Endpoint e;
    e.family = Family::kV4;
    e.ip = {a, b, c, d};
    e.port = port;
    return e;
  }
  static Endpoint v6(const std::array<uint8_t, 16>& bytes, uint16_t port) {
    Endpoint e;
    e.family = Family::kV6;
    e.ip = bytes;
    e.port = port;
    return e;
  }

  bool valid() const { return family != Family::kNone; }
  size_t ip_size() const { return family == Family::kV4 ? 4 : family == Family::kV6 ? 16 : 0; }

  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Same address, any port.
inline bool same_host(const Endpoint& a, const Endpoint& b) {
  return a.family == b.family && a.ip == b.ip;
}

// FNV-1a over family, address bytes and port: stable across runs and platforms.
inline uint64_t stable_hash(const Endpoint& e) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint8_t byte) {
    h ^= byte;
    h *= 1099511628211ull;
  };
  mix(static_cast<uint8_t>(e.family));
  for (size_t i = 0; i < e.ip_size(); ++i)
    mix(e.ip[i]);
  mix(static_cast<uint8_t>(e.port >> 8));
  mix(static_cast<uint8_t>(e.port & 0xff));
  return h;
}

}  // namespace turnscout

template <>
struct std::hash<turnscout::Endpoint> {
  size_t operator()(const turnscout::Endpoint& e) const noexcept {
    return static_cast<size_t>(turnscout::stable_hash(e));
  }
};
