#include "server/io/address_claim.hpp"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "base/endpoint.hpp"

namespace turnscout::server {
namespace {

// The abstract address for `name`: a leading NUL, then the name (not NUL-terminated).
socklen_t abstract_address(const std::string& name, sockaddr_un& out) {
  std::memset(&out, 0, sizeof out);
  out.sun_family = AF_UNIX;
  const size_t n = std::min(name.size(), sizeof out.sun_path - 1);
  std::memcpy(out.sun_path + 1, name.data(), n);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
}

// The process listening on the claim `name`, asked by connecting to it.
std::optional<pid_t> holder_of(const std::string& name) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_un address;
  const socklen_t length = abstract_address(name, address);
  std::optional<pid_t> pid;
  ucred cred{};
  socklen_t cred_length = sizeof cred;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0 &&
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_length) == 0 && cred.pid > 0) {
    pid = cred.pid;
  }
  close(fd);
  return pid;
}

}  // namespace

AddressClaims::~AddressClaims() {
  release();
}

std::string AddressClaims::name_of(const Endpoint& address) {
  return "turnscout-server/udp/" + to_string(unmap_v4(address));
}

Result<void, std::string> AddressClaims::claim(std::span<const Endpoint> addresses) {
  for (const Endpoint& at : addresses) {
    if (at.port == 0) continue;
    const std::string name = name_of(at);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return unexpected(fmt::format("{}: cannot claim the address: socket: {}", to_string(at),
                                    std::strerror(errno)));
    }
    sockaddr_un address;
    const socklen_t length = abstract_address(name, address);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
      const int error = errno;
      close(fd);
      if (error != EADDRINUSE) {
        return unexpected(
            fmt::format("{}: cannot claim the address: {}", to_string(at), std::strerror(error)));
      }
      const std::optional<pid_t> pid = holder_of(name);
      return unexpected(fmt::format(
          "{} is already served by another turnscout-server{}: stop it, or give this one "
          "another node.listen address",
          to_string(at), pid ? fmt::format(" (pid {})", *pid) : std::string()));
    }
    // Listening, so that a second server can ask who holds the claim (SO_PEERCRED).
    listen(fd, 1);
    fds_.push_back(fd);
  }
  return {};
}

void AddressClaims::release() {
  for (int fd : fds_)
    close(fd);
  fds_.clear();
}

}  // namespace turnscout::server
