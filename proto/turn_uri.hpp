// TURN and STUN URIs (RFC 7064, RFC 7065), the text of a SERVICE attribute.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "proto/errors.hpp"

namespace turnscout::proto {

enum class UriScheme : uint8_t { kStun, kStuns, kTurn, kTurns };
enum class UriTransport : uint8_t { kUdp, kTcp };

struct TurnUri {
  UriScheme scheme = UriScheme::kTurn;
  // A DNS name, an IPv4 address, or an IPv6 address without its brackets.
  std::string host;
  bool host_is_ipv6 = false;
  uint16_t port = 3478;                         // Default 3478; 5349 for stuns and turns.
  UriTransport transport = UriTransport::kUdp;  // Default udp; tcp for stuns and turns.
  friend bool operator==(const TurnUri&, const TurnUri&) = default;
};

// Parses `scheme:host[:port][?transport=udp|tcp]`. Scheme and transport are
// case-insensitive; `?transport` is only allowed for turn and turns, as in RFC 7065.
// Hosts are reg-names of [A-Za-z0-9.-] (no percent-encoding), IPv4 literals, or bracketed
// IPv6 literals. Errors use kBadValue with the offset of the problem in `text`.
Result<TurnUri, DecodeError> parse_turn_uri(std::string_view text);

// The canonical text form, with port and transport always spelled out.
std::string to_string(const TurnUri& uri);
// "stun", "stuns", "turn", "turns"; "udp", "tcp".
const char* to_string(UriScheme scheme);
const char* to_string(UriTransport transport);

}  // namespace turnscout::proto
