#include "tools/http/http_get.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "base/quote.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"

namespace turnscout::cli {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Result<std::vector<Endpoint>, std::string> resolve(std::string_view address) {
  if (auto ep = parse_endpoint(address); ep && ep->port != 0) return std::vector<Endpoint>{*ep};
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return unexpected(
        fmt::format("{}: expected IP:PORT, [IPv6]:PORT or HOST:PORT", quoted(address)));
  }
  const std::string host(address.substr(0, colon));
  const std::string port(address.substr(colon + 1));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return unexpected(fmt::format("{}: {}", quoted(address), ::gai_strerror(rc)));
  }
  std::vector<Endpoint> out;
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (auto ep = from_sockaddr(ai->ai_addr, ai->ai_addrlen)) out.push_back(*ep);
  }
  ::freeaddrinfo(res);
  if (out.empty()) return unexpected(fmt::format("{}: no address", quoted(address)));
  return out;
}

int remaining_ms(SteadyTime deadline) {
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(left.count(), 0));
}

// Waits for `events` on `fd`; false on timeout.
bool wait_for(int fd, short events, SteadyTime deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

Result<std::string, std::string> exchange(const Endpoint& to, std::string_view request,
                                          SteadyTime deadline) {
  sockaddr_storage addr{};
  const socklen_t len = to_sockaddr(to, addr);
  Fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return unexpected(fmt::format("socket: {}", std::strerror(errno)));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0 &&
      errno != EINPROGRESS) {
    return unexpected(fmt::format("connect to {}: {}", to, std::strerror(errno)));
  }
  if (!wait_for(fd.get(), POLLOUT, deadline)) {
    return unexpected(fmt::format("connect to {}: timed out", to));
  }
  int error = 0;
  socklen_t error_len = sizeof error;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &error_len);
  if (error != 0) return unexpected(fmt::format("connect to {}: {}", to, std::strerror(error)));
  size_t sent = 0;
  while (sent < request.size()) {
    if (!wait_for(fd.get(), POLLOUT, deadline)) return unexpected(std::string("send: timed out"));
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return unexpected(fmt::format("send: {}", std::strerror(errno)));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[16 * 1024];
  for (;;) {
    if (!wait_for(fd.get(), POLLIN, deadline)) {
      return unexpected(fmt::format("no complete answer from {} in time", to));
    }
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n == 0) return response;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      // A server that answers and closes with our request unread resets the connection.
      if (errno == ECONNRESET && !response.empty()) return response;
      return unexpected(fmt::format("receive: {}", std::strerror(errno)));
    }
    response.append(buffer, static_cast<size_t>(n));
    if (response.size() > kMaxHttpResponse) {
      return unexpected(fmt::format("answer larger than {} bytes", kMaxHttpResponse));
    }
  }
}

// ASCII case-insensitive search for a header line's value in the header block.
std::string_view header_value(std::string_view head, std::string_view name) {
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    const std::string_view line = head.substr(pos, head.find("\r\n", pos) - pos);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      std::string_view value = line.substr(name.size() + 1);
      while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
      return value;
    }
  }
  return {};
}

Result<HttpReply, std::string> parse_response(const std::string& raw) {
  const size_t head_end = raw.find("\r\n\r\n");
  if (raw.compare(0, 7, "HTTP/1.") != 0 || head_end == std::string::npos || raw.size() < 12) {
    return unexpected(std::string("not an HTTP/1.x answer"));
  }
  HttpReply reply;
  const auto [ptr, ec] = std::from_chars(raw.data() + 9, raw.data() + 12, reply.status);
  if (ec != std::errc{} || ptr != raw.data() + 12) {
    return unexpected(std::string("bad HTTP status line"));
  }
  const std::string_view head(raw.data(), head_end);
  const size_t status_end = raw.find("\r\n");
  reply.headers = raw.substr(status_end + 2, head_end - status_end - 2);
  if (!header_value(head, "transfer-encoding").empty()) {
    return unexpected(std::string("chunked transfer encoding is not supported"));
  }
  reply.body = raw.substr(head_end + 4);
  const std::string_view length = header_value(head, "content-length");
  if (!length.empty()) {
    size_t n = 0;
    const auto [end, lec] = std::from_chars(length.data(), length.data() + length.size(), n);
    if (lec != std::errc{} || end != length.data() + length.size() || n > reply.body.size()) {
      return unexpected(std::string("the answer ends before its Content-Length"));
    }
    reply.body.resize(n);
  }
  return reply;
}

std::string get_request(std::string_view path, std::string_view host) {
  return fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/plain\r\nConnection: close\r\n"
      "User-Agent: turnscout\r\n\r\n",
      path, host);
}

}  // namespace

std::string HttpReply::header(std::string_view name) const {
  return std::string(header_value("\r\n" + headers, name));
}

Result<HttpReply, std::string> http_get(const Endpoint& server, std::string_view path,
                                        Duration timeout) {
  auto raw = http_raw(server, get_request(path, to_string(server)), timeout);
  if (!raw) return unexpected(raw.error());
  return parse_response(*raw);
}

Result<std::string, std::string> http_raw(const Endpoint& server, std::string_view request,
                                          Duration timeout) {
  return exchange(server, request, std::chrono::steady_clock::now() + timeout);
}

Result<HttpReply, std::string> http_get(std::string_view address, std::string_view path,
                                        Duration timeout) {
  auto endpoints = resolve(address);
  if (!endpoints) return unexpected(endpoints.error());
  const SteadyTime deadline = std::chrono::steady_clock::now() + timeout;
  const std::string request = get_request(path, address);
  std::string last_error;
  for (const Endpoint& to : *endpoints) {
    auto raw = exchange(to, request, deadline);
    if (raw) return parse_response(*raw);
    last_error = raw.error();
  }
  return unexpected(last_error);
}

}  // namespace turnscout::cli
