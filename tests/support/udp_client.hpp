// A blocking UDP client for tests: sends one request encoded with proto/ and waits for the
// matching answer with poll() and a deadline. One datagram out per call, no retries, so a
// test's packet count is what it asks for.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/random.hpp"
#include "base/result.hpp"
#include "proto/binding.hpp"
#include "proto/probe.hpp"

namespace turnscout::test {

struct ReceivedDatagram {
  Endpoint from;
  std::vector<uint8_t> bytes;
};

class UdpClient {
 public:
  // A socket bound to `local` (port 0 = any); the family follows the address.
  static Result<UdpClient, std::string> open(const Endpoint& local, uint64_t seed = 1);

  UdpClient(UdpClient&& other) noexcept;
  UdpClient& operator=(UdpClient&& other) = delete;
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;
  ~UdpClient();

  const Endpoint& local() const { return local_; }

  Result<void, std::string> send(const Endpoint& to, std::span<const uint8_t> bytes);
  // The next datagram, or nullopt when none arrived within `timeout`.
  std::optional<ReceivedDatagram> receive(Duration timeout);

  // Sends `request` (a fresh transaction id is filled in) and returns the decoded response
  // from `to` with the same id; other datagrams are skipped. The error says what went wrong
  // ("no answer within 500ms", a decode error, an error response).
  Result<proto::ProbeResponse, std::string> probe(const Endpoint& to, proto::ProbeRequest request,
                                                  Duration timeout);
  // A plain RFC 8489 Binding request with FINGERPRINT.
  Result<proto::BindingResponse, std::string> binding(const Endpoint& to, Duration timeout);
  // Sends `request` and returns the raw answer with the same transaction id (first 20 bytes
  // of `request` hold the header).
  Result<ReceivedDatagram, std::string> exchange(const Endpoint& to,
                                                 std::span<const uint8_t> request,
                                                 Duration timeout);

  proto::TransactionId next_transaction_id();

 private:
  UdpClient(int fd, Endpoint local, uint64_t seed);

  int fd_ = -1;
  Endpoint local_;
  SeededRandom random_;
};

}  // namespace turnscout::test
