#include "common/sockaddr.hpp"

#include <arpa/inet.h>

#include <cstddef>
#include <cstring>

#include <fmt/format.h>

namespace turnscout {

socklen_t to_sockaddr(const Endpoint& ep, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (ep.family == Family::kV4) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(ep.port);
    std::memcpy(&sin.sin_addr, ep.ip.data(), 4);
    std::memcpy(&out, &sin, sizeof sin);
    return sizeof sin;
  }
  if (ep.family == Family::kV6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(ep.port);
    std::memcpy(&sin6.sin6_addr, ep.ip.data(), 16);
    std::memcpy(&out, &sin6, sizeof sin6);
    return sizeof sin6;
  }
  return 0;
}

Result<Endpoint, std::string> from_sockaddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr || len < sizeof(sa_family_t)) return unexpected(std::string("no address"));
  sa_family_t family;
  std::memcpy(&family, reinterpret_cast<const char*>(sa) + offsetof(sockaddr, sa_family),
              sizeof family);
  Endpoint ep;
  if (family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in sin;
    std::memcpy(&sin, sa, sizeof sin);
    ep.family = Family::kV4;
    std::memcpy(ep.ip.data(), &sin.sin_addr, 4);
    ep.port = ntohs(sin.sin_port);
    return ep;
  }
  if (family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, sa, sizeof sin6);
    ep.family = Family::kV6;
    std::memcpy(ep.ip.data(), &sin6.sin6_addr, 16);
    ep.port = ntohs(sin6.sin6_port);
    return ep;
  }
  if (family != AF_INET && family != AF_INET6) {
    return unexpected(fmt::format("unsupported address family {}", family));
  }
  return unexpected(fmt::format("address of family {} truncated to {} bytes", family, len));
}

}  // namespace turnscout
