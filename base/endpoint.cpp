#include "base/endpoint.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include "base/quote.hpp"

namespace turnscout {
namespace {

using EndpointResult = Result<Endpoint, std::string>;

std::optional<Endpoint> parse_family(std::string_view text, Family family) {
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  if (text.find('\0') != std::string_view::npos) return std::nullopt;  // inet_pton stops there.
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  Endpoint ep;
  ep.family = family;
  const int af = family == Family::kV4 ? AF_INET : AF_INET6;
  if (inet_pton(af, buf, ep.ip.data()) != 1) return std::nullopt;
  return ep;
}

std::optional<Endpoint> parse_any_family(std::string_view text) {
  auto ep = parse_family(text, Family::kV4);
  return ep ? ep : parse_family(text, Family::kV6);
}

// Digits only, at most 65535. Leading zeros are allowed ("03478").
std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint32_t port = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(c - '0');
    if (port > 65535) return std::nullopt;
  }
  return static_cast<uint16_t>(port);
}

EndpointResult bad_address(std::string_view text) {
  return unexpected("expected an address like 192.0.2.1:3478 or [2001:db8::1]:3478, got " +
                    quoted(text));
}

EndpointResult bad_port(std::string_view text) {
  return unexpected("expected a port from 0 to 65535, got " + quoted(text));
}

EndpointResult missing_port(std::string_view text, bool v6) {
  return unexpected(std::string("expected a port, like ") +
                    (v6 ? "[2001:db8::1]:3478" : "192.0.2.1:3478") + ", got " + quoted(text));
}

// Shared by both overloads; `default_port` empty means the port is required.
EndpointResult parse(std::string_view text, std::optional<uint16_t> default_port) {
  auto with_port = [&](Endpoint ep, std::string_view port_text) -> EndpointResult {
    auto port = parse_port(port_text);
    if (!port) return bad_port(text);
    ep.port = *port;
    return ep;
  };
  auto without_port = [&](Endpoint ep) -> EndpointResult {
    if (!default_port) return missing_port(text, ep.family == Family::kV6);
    ep.port = *default_port;
    return ep;
  };

  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return bad_address(text);
    auto ep = parse_family(text.substr(1, close - 1), Family::kV6);
    if (!ep) return bad_address(text);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return without_port(*ep);
    if (rest.front() != ':') return bad_address(text);
    return with_port(*ep, rest.substr(1));
  }

  const auto colons = std::count(text.begin(), text.end(), ':');
  if (colons == 0) {
    auto ep = parse_family(text, Family::kV4);
    return ep ? without_port(*ep) : bad_address(text);
  }
  if (colons == 1) {
    const size_t colon = text.find(':');
    auto ep = parse_family(text.substr(0, colon), Family::kV4);
    return ep ? with_port(*ep, text.substr(colon + 1)) : bad_address(text);
  }
  // "2001:db8::1:3478" is an IPv6 address too; when a port is required, say why it is
  // refused. With a default port it can only be read as an address.
  if (!default_port && parse_family(text.substr(0, text.rfind(':')), Family::kV6)) {
    return unexpected(
        "expected brackets around an IPv6 address with a port, like [2001:db8::1]:3478, got " +
        quoted(text));
  }
  auto ep = parse_family(text, Family::kV6);
  return ep ? without_port(*ep) : bad_address(text);
}

}  // namespace

Result<Endpoint, std::string> parse_ip(std::string_view text) {
  if (auto ep = parse_any_family(text)) return *ep;
  return unexpected("expected an IP address like 192.0.2.1 or 2001:db8::1, got " + quoted(text));
}

Result<Endpoint, std::string> parse_endpoint(std::string_view text) {
  return parse(text, std::nullopt);
}

Result<Endpoint, std::string> parse_endpoint(std::string_view text, uint16_t default_port) {
  return parse(text, default_port);
}

EndpointText format_endpoint(const Endpoint& ep) {
  EndpointText out;
  char* p = out.data;
  char ip[INET6_ADDRSTRLEN];
  if (!ep.valid()) {
    std::memcpy(p, "none", 4);
    out.size = 4;
    return out;
  }
  const bool v6 = ep.family == Family::kV6;
  inet_ntop(v6 ? AF_INET6 : AF_INET, ep.ip.data(), ip, sizeof ip);
  if (v6) *p++ = '[';
  const size_t ip_len = std::strlen(ip);
  std::memcpy(p, ip, ip_len);
  p += ip_len;
  if (v6) *p++ = ']';
  *p++ = ':';
  p = std::to_chars(p, out.data + kMaxEndpointText, ep.port).ptr;
  out.size = static_cast<size_t>(p - out.data);
  out.data[out.size] = '\0';
  return out;
}

std::string to_string(const Endpoint& ep) {
  return std::string(format_endpoint(ep).view());
}

std::string ip_to_string(const Endpoint& ep) {
  if (!ep.valid()) return "none";
  char ip[INET6_ADDRSTRLEN];
  inet_ntop(ep.family == Family::kV6 ? AF_INET6 : AF_INET, ep.ip.data(), ip, sizeof ip);
  return ip;
}

bool is_v4_mapped(const Endpoint& ep) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return ep.family == Family::kV6 && std::memcmp(ep.ip.data(), kPrefix, sizeof kPrefix) == 0;
}

Endpoint unmap_v4(const Endpoint& ep) {
  if (!is_v4_mapped(ep)) return ep;
  return Endpoint::v4(ep.ip[12], ep.ip[13], ep.ip[14], ep.ip[15], ep.port);
}

bool is_loopback(const Endpoint& ep) {
  const Endpoint plain = unmap_v4(ep);
  if (plain.family == Family::kV4) return plain.ip[0] == 127;
  if (plain.family != Family::kV6) return false;
  std::array<uint8_t, 16> loopback{};
  loopback[15] = 1;
  return plain.ip == loopback;
}

bool is_any(const Endpoint& ep) {
  return ep.valid() && std::all_of(ep.ip.begin(), ep.ip.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace turnscout
