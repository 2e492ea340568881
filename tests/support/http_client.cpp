#include "tests/support/http_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"

namespace turnscout::test {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

int millis_left(SteadyTime deadline) {
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(left.count(), 0));
}

// Waits for `events` on `fd`; false on timeout or error.
bool wait_for(int fd, short events, SteadyTime deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int ready = poll(&p, 1, millis_left(deadline));
    if (ready < 0 && errno == EINTR) continue;
    return ready > 0;
  }
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

Result<void, std::string> connect_with_deadline(const Socket& s, const Endpoint& server,
                                                SteadyTime deadline) {
  sockaddr_storage addr{};
  const socklen_t len = to_sockaddr(server, addr);
  if (connect(s.fd(), reinterpret_cast<const sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) {
    return unexpected(fmt::format("connect {}: {}", server, strerror(errno)));
  }
  if (!wait_for(s.fd(), POLLOUT, deadline)) {
    return unexpected(fmt::format("connect {}: timed out", server));
  }
  int error = 0;
  socklen_t error_len = sizeof(error);
  getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &error, &error_len);
  if (error != 0) return unexpected(fmt::format("connect {}: {}", server, strerror(error)));
  return {};
}

Result<void, std::string> send_all(const Socket& s, std::string_view data, SteadyTime deadline) {
  while (!data.empty()) {
    if (!wait_for(s.fd(), POLLOUT, deadline)) return unexpected(std::string("send timed out"));
    const ssize_t n = ::send(s.fd(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return unexpected(fmt::format("send: {}", strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<std::string, std::string> read_until_close(const Socket& s, SteadyTime deadline) {
  constexpr size_t kMaxResponse = 16 * 1024 * 1024;
  std::string received;
  std::array<char, 16384> buffer;
  for (;;) {
    if (!wait_for(s.fd(), POLLIN, deadline)) return unexpected(std::string("read timed out"));
    const ssize_t n = ::recv(s.fd(), buffer.data(), buffer.size(), 0);
    if (n == 0) return received;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      if (errno == ECONNRESET) return received;
      return unexpected(fmt::format("recv: {}", strerror(errno)));
    }
    received.append(buffer.data(), static_cast<size_t>(n));
    if (received.size() > kMaxResponse) return unexpected(std::string("response too large"));
  }
}

Result<HttpResponse, std::string> parse_response(const std::string& raw) {
  const size_t head_end = raw.find("\r\n\r\n");
  const size_t line_end = raw.find("\r\n");
  if (head_end == std::string::npos || raw.rfind("HTTP/1.", 0) != 0) {
    return unexpected(fmt::format("not an HTTP response: \"{}\"", raw.substr(0, 80)));
  }
  HttpResponse r;
  const char* status = raw.data() + std::min<size_t>(9, line_end);
  std::from_chars(status, raw.data() + line_end, r.status);
  r.headers = raw.substr(line_end + 2, head_end - line_end - 2);
  r.body = raw.substr(head_end + 4);
  return r;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  size_t pos = 0;
  while (pos < headers.size()) {
    size_t end = headers.find("\r\n", pos);
    if (end == std::string::npos) end = headers.size();
    const std::string_view line(headers.data() + pos, end - pos);
    const size_t colon = line.find(':');
    if (colon == name.size() &&
        std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
      return std::string(value);
    }
    pos = end + 2;
  }
  return "";
}

Result<std::string, std::string> http_raw(const Endpoint& server, std::string_view request,
                                          Duration timeout) {
  const SteadyTime deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_storage addr{};
  if (to_sockaddr(server, addr) == 0) return unexpected(std::string("invalid server address"));
  Socket s(socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.fd() < 0) return unexpected(fmt::format("socket: {}", strerror(errno)));
  if (auto c = connect_with_deadline(s, server, deadline); !c) return unexpected(c.error());
  if (auto w = send_all(s, request, deadline); !w) return unexpected(w.error());
  return read_until_close(s, deadline);
}

Result<HttpResponse, std::string> http_get(const Endpoint& server, std::string_view path,
                                           Duration timeout) {
  const std::string request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: turnscout-test\r\n\r\n",
      path, server);
  auto raw = http_raw(server, request, timeout);
  if (!raw) return unexpected(raw.error());
  return parse_response(*raw);
}

}  // namespace turnscout::test
