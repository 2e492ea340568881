#include "tests/support/udp_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"
#include "proto/message_view.hpp"

namespace turnscout::test {
namespace {

std::string errno_text(const char* what) {
  return fmt::format("{}: {}", what, strerror(errno));
}

bool same_transaction(std::span<const uint8_t> bytes, std::span<const uint8_t> request) {
  constexpr size_t kIdOffset = 8;
  if (bytes.size() < proto::kHeaderSize || request.size() < proto::kHeaderSize) return false;
  return std::equal(bytes.begin() + kIdOffset, bytes.begin() + proto::kHeaderSize,
                    request.begin() + kIdOffset);
}

}  // namespace

Result<UdpClient, std::string> UdpClient::open(const Endpoint& local, uint64_t seed) {
  sockaddr_storage addr{};
  const socklen_t len = to_sockaddr(local, addr);
  if (len == 0) return unexpected(std::string("invalid local address"));
  const int fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unexpected(errno_text("socket"));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    std::string error = errno_text("bind");
    ::close(fd);
    return unexpected(std::move(error));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  auto ep = from_sockaddr(reinterpret_cast<const sockaddr*>(&bound), bound_len);
  if (!ep) {
    ::close(fd);
    return unexpected(ep.error());
  }
  return UdpClient(fd, *ep, seed);
}

UdpClient::UdpClient(int fd, Endpoint local, uint64_t seed)
    : fd_(fd), local_(local), random_(seed) {}

UdpClient::UdpClient(UdpClient&& other) noexcept
    : fd_(other.fd_), local_(other.local_), random_(other.random_) {
  other.fd_ = -1;
}

UdpClient::~UdpClient() {
  if (fd_ >= 0) ::close(fd_);
}

proto::TransactionId UdpClient::next_transaction_id() {
  proto::TransactionId id{};
  random_.fill(id);
  return id;
}

Result<void, std::string> UdpClient::send(const Endpoint& to, std::span<const uint8_t> bytes) {
  sockaddr_storage addr{};
  const socklen_t len = to_sockaddr(to, addr);
  if (len == 0) return unexpected(std::string("invalid destination"));
  const ssize_t sent =
      sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&addr), len);
  if (sent != static_cast<ssize_t>(bytes.size())) return unexpected(errno_text("sendto"));
  return {};
}

std::optional<ReceivedDatagram> UdpClient::receive(Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<uint8_t, 65536> buffer;
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n = recvfrom(fd_, buffer.data(), buffer.size(), 0,
                               reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) continue;  // E.g. ICMP port unreachable reported on the socket.
    auto ep = from_sockaddr(reinterpret_cast<const sockaddr*>(&from), from_len);
    if (!ep) continue;
    return ReceivedDatagram{*ep, {buffer.begin(), buffer.begin() + n}};
  }
}

Result<ReceivedDatagram, std::string> UdpClient::exchange(const Endpoint& to,
                                                          std::span<const uint8_t> request,
                                                          Duration timeout) {
  if (auto sent = send(to, request); !sent) return unexpected(sent.error());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
    auto got = receive(std::max(left, Duration{0}));
    if (!got) {
      return unexpected(fmt::format("no answer from {} within {}", to, format_duration(timeout)));
    }
    if (got->from == to && same_transaction(got->bytes, request)) return std::move(*got);
  }
}

Result<proto::ProbeResponse, std::string> UdpClient::probe(const Endpoint& to,
                                                           proto::ProbeRequest request,
                                                           Duration timeout) {
  request.transaction_id = next_transaction_id();
  std::array<uint8_t, 2048> out;
  auto size = proto::encode_probe_request(request, out);
  if (!size) return unexpected("encode: " + proto::to_string(size.error()));
  auto answer = exchange(to, std::span(out).first(*size), timeout);
  if (!answer) return unexpected(answer.error());
  auto view = proto::parse_message(answer->bytes);
  if (!view) return unexpected("parse: " + proto::to_string(view.error()));
  if (view->message_class() == proto::MessageClass::kError) {
    return unexpected(std::string("error response"));
  }
  auto response = proto::decode_probe_response(*view);
  if (!response) return unexpected("decode: " + proto::to_string(response.error()));
  return std::move(*response);
}

Result<proto::BindingResponse, std::string> UdpClient::binding(const Endpoint& to,
                                                               Duration timeout) {
  proto::BindingRequest request;
  request.transaction_id = next_transaction_id();
  std::array<uint8_t, 256> out;
  auto size = proto::encode_binding_request(request, out);
  if (!size) return unexpected("encode: " + proto::to_string(size.error()));
  auto answer = exchange(to, std::span(out).first(*size), timeout);
  if (!answer) return unexpected(answer.error());
  auto view = proto::parse_message(answer->bytes);
  if (!view) return unexpected("parse: " + proto::to_string(view.error()));
  auto response = proto::decode_binding_response(*view);
  if (!response) return unexpected("decode: " + proto::to_string(response.error()));
  return *response;
}

}  // namespace turnscout::test
