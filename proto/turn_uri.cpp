#include "proto/turn_uri.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace turnscout::proto {
namespace {

Unexpected<DecodeError> bad(size_t offset, const char* where) {
  return unexpected(DecodeError{DecodeErrc::kBadValue, static_cast<uint32_t>(offset), where});
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

// `s` holds 1..5 digits, checked by the caller.
unsigned decimal(std::string_view s) {
  unsigned v = 0;
  for (char c : s)
    v = v * 10 + static_cast<unsigned>(c - '0');
  return v;
}

bool valid_ipv4(std::string_view s) {
  int octets = 0;
  size_t pos = 0;
  while (true) {
    size_t end = s.find('.', pos);
    const auto octet = s.substr(pos, end == std::string_view::npos ? s.npos : end - pos);
    if (octet.empty() || octet.size() > 3 || !std::all_of(octet.begin(), octet.end(), is_digit)) {
      return false;
    }
    if (octet.size() > 1 && octet[0] == '0') return false;  // No octal-looking octets.
    if (decimal(octet) > 255) return false;
    ++octets;
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return octets == 4;
}

// Counts the 16-bit groups in a ':'-separated run of hex groups; an IPv4 tail counts as two
// and is only allowed when `ipv4_tail_ok`. -1 if malformed.
int count_groups(std::string_view s, bool ipv4_tail_ok) {
  if (s.empty()) return 0;
  int groups = 0;
  size_t pos = 0;
  while (true) {
    const size_t end = s.find(':', pos);
    const auto group = s.substr(pos, end == std::string_view::npos ? s.npos : end - pos);
    if (end == std::string_view::npos && ipv4_tail_ok && group.find('.') != group.npos) {
      return valid_ipv4(group) ? groups + 2 : -1;
    }
    if (group.empty() || group.size() > 4 || !std::all_of(group.begin(), group.end(), is_hex)) {
      return -1;
    }
    ++groups;
    if (end == std::string_view::npos) return groups;
    pos = end + 1;
  }
}

bool valid_ipv6(std::string_view s) {
  if (s.size() < 2 || s.size() > 45) return false;
  const size_t gap = s.find("::");
  if (gap == std::string_view::npos) return count_groups(s, true) == 8;
  if (s.find("::", gap + 1) != std::string_view::npos) return false;
  const int left = count_groups(s.substr(0, gap), false);
  const int right = count_groups(s.substr(gap + 2), true);
  return left >= 0 && right >= 0 && left + right <= 7;
}

bool valid_reg_name(std::string_view s) {
  return !s.empty() && s.size() <= 253 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-';
  });
}

Result<uint16_t, DecodeError> parse_port(std::string_view s, size_t offset) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), is_digit)) {
    return bad(offset, "uri.port");
  }
  const unsigned port = decimal(s);
  if (port < 1 || port > 65535) return bad(offset, "uri.port");
  return static_cast<uint16_t>(port);
}

Result<UriScheme, DecodeError> parse_scheme(std::string_view s) {
  constexpr std::array<std::pair<std::string_view, UriScheme>, 4> kSchemes{{
      {"stun", UriScheme::kStun},
      {"stuns", UriScheme::kStuns},
      {"turn", UriScheme::kTurn},
      {"turns", UriScheme::kTurns},
  }};
  for (const auto& [name, scheme] : kSchemes) {
    if (iequals(s, name)) return scheme;
  }
  return bad(0, "uri.scheme");
}

// Fills host, host_is_ipv6 and port from `s`, which starts at `offset` in the URI.
Result<void, DecodeError> parse_host_port(std::string_view s, size_t offset, TurnUri& uri) {
  std::string_view rest;
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos || !valid_ipv6(s.substr(1, close - 1))) {
      return bad(offset, "uri.host");
    }
    uri.host = std::string(s.substr(1, close - 1));
    uri.host_is_ipv6 = true;
    rest = s.substr(close + 1);
  } else {
    const size_t colon = s.find(':');
    const auto host = s.substr(0, colon);
    if (!valid_reg_name(host)) return bad(offset, "uri.host");
    uri.host = std::string(host);
    rest = colon == std::string_view::npos ? std::string_view() : s.substr(colon);
  }
  if (rest.empty()) return {};
  const size_t port_offset = offset + (s.size() - rest.size()) + 1;
  if (rest[0] != ':') return bad(port_offset - 1, "uri.host");
  auto port = parse_port(rest.substr(1), port_offset);
  if (!port) return unexpected(port.error());
  uri.port = *port;
  return {};
}

Result<UriTransport, DecodeError> parse_transport_query(std::string_view query, size_t offset) {
  constexpr std::string_view kKey = "transport=";
  if (query.size() < kKey.size() || !iequals(query.substr(0, kKey.size()), kKey)) {
    return bad(offset, "uri.query");
  }
  const auto value = query.substr(kKey.size());
  if (iequals(value, "udp")) return UriTransport::kUdp;
  if (iequals(value, "tcp")) return UriTransport::kTcp;
  return bad(offset + kKey.size(), "uri.transport");
}

}  // namespace

Result<TurnUri, DecodeError> parse_turn_uri(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return bad(0, "uri.scheme");
  auto scheme = parse_scheme(text.substr(0, colon));
  if (!scheme) return unexpected(scheme.error());
  TurnUri uri;
  uri.scheme = *scheme;
  const bool secure = uri.scheme == UriScheme::kStuns || uri.scheme == UriScheme::kTurns;
  const bool turn = uri.scheme == UriScheme::kTurn || uri.scheme == UriScheme::kTurns;
  uri.port = secure ? 5349 : 3478;
  uri.transport = secure ? UriTransport::kTcp : UriTransport::kUdp;

  const size_t question = text.find('?', colon + 1);
  const auto host_port =
      text.substr(colon + 1, question == text.npos ? text.npos : question - colon - 1);
  if (auto ok = parse_host_port(host_port, colon + 1, uri); !ok) return unexpected(ok.error());
  if (question != std::string_view::npos) {
    if (!turn) return bad(question, "uri.query");
    auto transport = parse_transport_query(text.substr(question + 1), question + 1);
    if (!transport) return unexpected(transport.error());
    uri.transport = *transport;
  }
  return uri;
}

const char* to_string(UriScheme scheme) {
  static constexpr std::array<const char*, 4> kNames{"stun", "stuns", "turn", "turns"};
  return kNames[static_cast<size_t>(scheme)];
}

const char* to_string(UriTransport transport) {
  return transport == UriTransport::kUdp ? "udp" : "tcp";
}

std::string to_string(const TurnUri& uri) {
  std::string out = to_string(uri.scheme);
  out += ':';
  out += uri.host_is_ipv6 ? "[" + uri.host + "]" : uri.host;
  out += ':' + std::to_string(uri.port);
  if (uri.scheme == UriScheme::kTurn || uri.scheme == UriScheme::kTurns) {
    out += "?transport=";
    out += to_string(uri.transport);
  }
  return out;
}

}  // namespace turnscout::proto
