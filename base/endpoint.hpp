// Parsing and printing of Endpoint (base/address.hpp); sockaddr conversion is in
// common/sockaddr.hpp, the fmt formatter in common/format.hpp.
// Only numeric addresses: host-name resolution belongs to the I/O layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/address.hpp"
#include "base/result.hpp"

namespace turnscout {

// A bare IPv4 or IPv6 address ("192.0.2.1", "2001:db8::1"); no brackets, no port, no zone.
// The port of the result is 0.
Result<Endpoint, std::string> parse_ip(std::string_view text);

// "192.0.2.1:3478" or "[2001:db8::1]:3478". The port is required and may be 0 (bind to
// any port). An IPv6 address without brackets is rejected: its last group and a port
// cannot be told apart.
Result<Endpoint, std::string> parse_endpoint(std::string_view text);

// As above, and also accepts an address without a port ("192.0.2.1", "[::1]", "::1"),
// which then gets `default_port`.
Result<Endpoint, std::string> parse_endpoint(std::string_view text, uint16_t default_port);

// Longest text of to_string(): "[" + 45-char IPv6 + "]:" + 5-digit port.
inline constexpr size_t kMaxEndpointText = 53;

// Printed form without heap allocation; view() stays valid while the object lives.
struct EndpointText {
  char data[kMaxEndpointText + 1];
  size_t size = 0;
  std::string_view view() const { return {data, size}; }
};

// "192.0.2.1:5", "[2001:db8::1]:5" (RFC 5952 form), or "none" for an invalid endpoint.
EndpointText format_endpoint(const Endpoint& ep);
std::string to_string(const Endpoint& ep);
// The address alone: "192.0.2.1", "2001:db8::1" (no brackets), or "none".
std::string ip_to_string(const Endpoint& ep);

// 127.0.0.0/8, ::1, and IPv4-mapped 127.0.0.0/8.
bool is_loopback(const Endpoint& ep);
// The unspecified address (0.0.0.0 or ::), whatever the port.
bool is_any(const Endpoint& ep);
// ::ffff:a.b.c.d, as seen on a dual-stack socket for an IPv4 peer.
bool is_v4_mapped(const Endpoint& ep);
// The plain IPv4 endpoint for an IPv4-mapped one; any other endpoint unchanged. Use it to
// key per-client tables so a client counts once whichever socket it reached.
Endpoint unmap_v4(const Endpoint& ep);

}  // namespace turnscout
