#include "common/udp_socket.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"

namespace turnscout {
namespace {

std::string socket_error(const char* what, const Endpoint& at) {
  return fmt::format("cannot {} UDP {}: {}", what, at, strerror(errno));
}

bool set_flag(int fd, int level, int option) {
  const int one = 1;
  return setsockopt(fd, level, option, &one, sizeof(one)) == 0;
}

}  // namespace

Result<Endpoint, std::string> socket_local_endpoint(int fd) {
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return unexpected(fmt::format("getsockname: {}", strerror(errno)));
  }
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&bound), len);
}

Result<BoundSocket, std::string> open_udp_socket(const Endpoint& at, UdpSocketOptions options) {
  sockaddr_storage addr{};
  const socklen_t len = to_sockaddr(at, addr);
  if (len == 0) return unexpected(fmt::format("invalid listen address {}", at));
  const int fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return unexpected(socket_error("create a socket for", at));

  bool ok = true;
  if (at.family == Family::kV6) ok = set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY);
  if (ok && options.reuse_port) ok = set_flag(fd, SOL_SOCKET, SO_REUSEPORT);
  if (!ok) {
    std::string error = socket_error("set options on", at);
    ::close(fd);
    return unexpected(std::move(error));
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    std::string error = socket_error("bind", at);
    ::close(fd);
    return unexpected(std::move(error));
  }
  auto local = socket_local_endpoint(fd);
  if (!local) {
    ::close(fd);
    return unexpected(local.error());
  }
  return BoundSocket{fd, *local};
}

Result<BoundSocket, std::string> open_tcp_socket(const Endpoint& at) {
  sockaddr_storage addr{};
  const socklen_t len = to_sockaddr(at, addr);
  if (len == 0) return unexpected(fmt::format("invalid listen address {}", at));
  const int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const auto fail = [&](const char* what) {
    std::string error = fmt::format("cannot {} TCP {}: {}", what, at, strerror(errno));
    if (fd >= 0) ::close(fd);
    return unexpected(std::move(error));
  };
  if (fd < 0) return fail("create a socket for");
  // SO_REUSEADDR: a restart binds again while old connections sit in TIME_WAIT.
  if ((at.family == Family::kV6 && !set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY)) ||
      !set_flag(fd, SOL_SOCKET, SO_REUSEADDR)) {
    return fail("set options on");
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) return fail("bind");
  auto local = socket_local_endpoint(fd);
  if (!local) {
    ::close(fd);
    return unexpected(local.error());
  }
  return BoundSocket{fd, *local};
}

Result<std::vector<BoundSocket>, std::string> open_udp_sockets(std::span<const Endpoint> at,
                                                               UdpSocketOptions options) {
  std::vector<BoundSocket> sockets;
  for (const Endpoint& address : at) {
    auto s = open_udp_socket(address, options);
    if (!s) {
      close_sockets(sockets);
      return unexpected(s.error());
    }
    sockets.push_back(*s);
  }
  return sockets;
}

void close_sockets(std::span<const BoundSocket> sockets) {
  for (const BoundSocket& s : sockets)
    ::close(s.fd);
}

}  // namespace turnscout
