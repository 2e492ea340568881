// SendBatch (sendmmsg with a bounded fallback) on loopback, and the bounded queue of
// control datagrams between workers.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "base/endpoint.hpp"
#include "common/send_batch.hpp"
#include "common/udp_socket.hpp"
#include "server/io/forward_queue.hpp"
#include "tests/support/udp_client.hpp"

namespace turnscout::server {
namespace {

const Endpoint kLoopbackAny = Endpoint::v4(127, 0, 0, 1, 0);

void queue(SendBatch& batch, const Endpoint& to, std::string_view text) {
  auto slot = batch.slot();
  std::memcpy(slot.data(), text.data(), text.size());
  batch.commit(to, text.size());
}

std::string as_text(const std::vector<uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

}  // namespace

TEST_CASE("SendBatch sends everything queued in one flush, in order") {
  auto sender = open_udp_socket(kLoopbackAny, {});
  REQUIRE(sender.ok());
  auto receiver = test::UdpClient::open(kLoopbackAny);
  REQUIRE(receiver.ok());

  SendBatch batch;
  CHECK(batch.empty());
  for (int i = 0; i < 5; ++i)
    queue(batch, receiver->local(), "reply " + std::to_string(i));
  CHECK(batch.size() == 5);
  const FlushResult r = batch.flush(sender->fd);
  CHECK(r.sent == 5);
  CHECK(r.dropped == 0);
  CHECK(batch.empty());
  for (int i = 0; i < 5; ++i) {
    auto got = receiver->receive(std::chrono::seconds{1});
    REQUIRE(got.has_value());
    CHECK(as_text(got->bytes) == "reply " + std::to_string(i));
    CHECK(got->from == sender->local);
  }
  ::close(sender->fd);
}

TEST_CASE("SendBatch drops a datagram the kernel refuses and sends the rest") {
  auto sender = open_udp_socket(kLoopbackAny, {});
  REQUIRE(sender.ok());
  auto receiver = test::UdpClient::open(kLoopbackAny);
  REQUIRE(receiver.ok());

  SendBatch batch;
  queue(batch, receiver->local(), "first");
  queue(batch, Endpoint::v4(127, 0, 0, 1, 0), "to port 0: EINVAL");
  queue(batch, receiver->local(), "third");
  const FlushResult r = batch.flush(sender->fd);
  CHECK(r.sent == 2);
  CHECK(r.dropped == 1);
  CHECK(r.last_error == EINVAL);
  CHECK(as_text(receiver->receive(std::chrono::seconds{1})->bytes) == "first");
  CHECK(as_text(receiver->receive(std::chrono::seconds{1})->bytes) == "third");
  ::close(sender->fd);
}

TEST_CASE("SendBatch holds kCapacity replies") {
  SendBatch batch;
  for (size_t i = 0; i < SendBatch::kCapacity; ++i) {
    CHECK(batch.slot().size() == SendBatch::kSlotSize);
    batch.commit(Endpoint::v4(127, 0, 0, 1, 9), 1);
  }
  CHECK(batch.full());
}

TEST_CASE("open_udp_socket reports the real port and names the address on failure") {
  auto a = open_udp_socket(kLoopbackAny, {.reuse_port = true});
  REQUIRE(a.ok());
  CHECK(a->local.port != 0);
  // A sibling with SO_REUSEPORT shares the port; one without is refused.
  auto sibling = open_udp_socket(a->local, {.reuse_port = true});
  CHECK(sibling.ok());
  auto intruder = open_udp_socket(a->local, {});
  REQUIRE_FALSE(intruder.ok());
  CHECK(intruder.error().find(to_string(a->local)) != std::string::npos);
  ::close(a->fd);
  if (sibling) ::close(sibling->fd);
}

TEST_CASE("ForwardQueue keeps order, refuses when full or oversized, and drains completely") {
  ForwardQueue q(3, 2);
  const Endpoint local = Endpoint::v4(127, 0, 0, 1, 1);
  const Endpoint remote = Endpoint::v4(127, 0, 0, 2, 2);
  const std::vector<uint8_t> big(ForwardQueue::kMaxDatagram + 1, 0);
  CHECK_FALSE(q.push(local, remote, big, true));
  for (uint8_t i = 0; i < 3; ++i)
    CHECK(q.push(local, remote, std::vector<uint8_t>{i}, true));
  CHECK_FALSE(q.push(local, remote, std::vector<uint8_t>{9}, true));

  std::vector<uint8_t> seen;
  q.drain([&](const Endpoint& l, const Endpoint& r, std::span<const uint8_t> bytes) {
    CHECK(l == local);
    CHECK(r == remote);
    REQUIRE(bytes.size() == 1);
    seen.push_back(bytes[0]);
  });
  CHECK(seen == std::vector<uint8_t>{0, 1, 2});
  // Drained: room again, and nothing is delivered twice.
  CHECK(q.push(local, remote, std::vector<uint8_t>{7}, true));
  seen.clear();
  q.drain(
      [&](const Endpoint&, const Endpoint&, std::span<const uint8_t> b) { seen.push_back(b[0]); });
  CHECK(seen == std::vector<uint8_t>{7});
}

TEST_CASE("ForwardQueue: a flood of strangers fills only its own lane; children go first") {
  // Before the lanes, one queue of 256 slots: forged heartbeats filled it and a child's
  // heartbeat was refused (the child went suspect under a flood).
  ForwardQueue q(4, 4);
  const Endpoint local = Endpoint::v4(127, 0, 0, 1, 1);
  const Endpoint stranger = Endpoint::v4(127, 0, 0, 9, 9);
  const Endpoint child = Endpoint::v4(127, 0, 0, 2, 2);
  int refused = 0;
  for (uint8_t i = 0; i < 100; ++i)
    refused += q.push(local, stranger, std::vector<uint8_t>{i}, false) ? 0 : 1;
  CHECK(refused == 96);
  CHECK(q.push(local, child, std::vector<uint8_t>{200}, true));
  std::vector<Endpoint> order;
  q.drain(
      [&](const Endpoint&, const Endpoint& r, std::span<const uint8_t>) { order.push_back(r); });
  REQUIRE(order.size() == 5);
  CHECK(order[0] == child);
  CHECK(order[4] == stranger);
}

}  // namespace turnscout::server
