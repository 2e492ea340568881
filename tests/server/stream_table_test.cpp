// StreamTable on a fake clock: connection limits per node and per client network, framing
// across any chunking, and every deadline with its reason.
#include <doctest/doctest.h>

#include <vector>

#include "proto/proto.hpp"
#include "proto/stream_framing.hpp"
#include "server/core/stream_table.hpp"

namespace turnscout::server {
namespace {

using namespace std::chrono_literals;

const TimePoint kStart = TimePoint{} + 100s;

StreamConfig small_limits() {
  StreamConfig c;
  c.max_connections = 4;
  c.max_per_source = 2;
  c.first_request_timeout = 2s;
  c.idle_timeout = 10s;
  c.handshake_timeout = 3s;
  c.max_request_size = 1500;
  c.max_write_queue = 1000;
  return c;
}

Endpoint client(uint8_t host, uint16_t port = 40000) {
  return Endpoint::v4(198, 51, 100, host, port);
}

std::vector<uint8_t> probe(uint8_t id, size_t pad_to = 0) {
  proto::ProbeRequest r;
  r.transaction_id = {id, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  r.pad_to = pad_to;
  std::vector<uint8_t> out(1500);
  const auto n = proto::encode_probe_request(r, out);
  REQUIRE(n.ok());
  out.resize(*n);
  return out;
}

// Feeds `bytes` in chunks of `chunk` and collects the requests' first transaction-id bytes.
struct Feed {
  std::vector<uint8_t> ids;
  std::optional<StreamEnd> end;
};
Feed feed(StreamTable& t, StreamId id, const std::vector<uint8_t>& bytes, size_t chunk,
          TimePoint now = kStart) {
  Feed out;
  for (size_t at = 0; at < bytes.size() && !out.end; at += chunk) {
    const size_t n = std::min(chunk, bytes.size() - at);
    out.end = t.receive(now, id, std::span(bytes).subspan(at, n),
                        [&](std::span<const uint8_t> request) -> std::optional<StreamEnd> {
                          const auto view = proto::parse_message(request);
                          REQUIRE(view.ok());
                          out.ids.push_back(view->transaction_id()[0]);
                          return std::nullopt;
                        });
  }
  return out;
}

}  // namespace

TEST_CASE("StreamTable bounds connections in total and per client network") {
  StreamTable t(small_limits(), 64);
  CHECK(t.open(kStart, client(1, 1), false).ok());
  CHECK(t.open(kStart, client(1, 2), false).ok());
  // A third from the same address, on any port, is refused; another address is not.
  const auto third = t.open(kStart, client(1, 3), false);
  REQUIRE_FALSE(third.ok());
  CHECK(third.error() == StreamRefusal::kPerSource);
  const auto other = t.open(kStart, client(2), false);
  CHECK(other.ok());
  // IPv6 clients share a limit per /64.
  std::array<uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1};
  ip[15] = 1;
  CHECK(t.open(kStart, Endpoint::v6(ip, 1), false).ok());
  CHECK(t.size() == 4);
  // The node's total.
  const auto fifth = t.open(kStart, client(3), false);
  REQUIRE_FALSE(fifth.ok());
  CHECK(fifth.error() == StreamRefusal::kTotal);
  CHECK(t.counters().refused[0].get() == 1);
  CHECK(t.counters().refused[1].get() == 1);
  // Closing one frees its slot and its network's share; closing it again changes nothing.
  t.close(*other, StreamEnd::kPeerClosed);
  t.close(*other, StreamEnd::kPeerClosed);
  CHECK(t.size() == 3);
  CHECK(t.counters().closed[static_cast<size_t>(StreamEnd::kPeerClosed)].get() == 1);
  CHECK(t.open(kStart, client(3), false).ok());
}

TEST_CASE("StreamTable: a full table makes room by closing the connection quiet longest") {
  StreamTable t(small_limits(), 64);  // 4 connections, 2 per source.
  const StreamId old1 = *t.open(kStart, client(1), false);
  const StreamId old2 = *t.open(kStart + 100ms, client(2), false);
  const StreamId busy = *t.open(kStart + 200ms, client(3), false);
  const StreamId fourth = *t.open(kStart + 300ms, client(4), false);
  // old1 just completed a request: it is active, so old2 is the quiet one.
  CHECK(feed(t, old1, probe(1), 100, kStart + 1500ms).ids.size() == 1);
  std::optional<StreamId> evicted;
  const auto fifth = t.open(kStart + 1500ms, client(5), false, &evicted);
  REQUIRE(fifth.ok());
  REQUIRE(evicted.has_value());
  CHECK(*evicted == old2);
  CHECK(t.size() == 4);
  CHECK(t.counters().closed[static_cast<size_t>(StreamEnd::kEvicted)].get() == 1);
  // Everyone else went quiet less than kMinQuietToEvict ago: a newcomer is refused.
  CHECK(feed(t, busy, probe(2), 100, kStart + 1600ms).ids.size() == 1);
  CHECK(feed(t, fourth, probe(3), 100, kStart + 1600ms).ids.size() == 1);
  evicted.reset();
  const auto refused = t.open(kStart + 1700ms, client(6), false, &evicted);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error() == StreamRefusal::kTotal);
  CHECK_FALSE(evicted.has_value());
  // An address at its own limit evicts nobody: it is refused first.
  CHECK(feed(t, *fifth, probe(4), 100, kStart + 9s).ids.size() == 1);
  REQUIRE(t.open(kStart + 9s, client(5, 2), false, &evicted).ok());
  CHECK(evicted.has_value());
  evicted.reset();
  const auto third = t.open(kStart + 9s, client(5, 3), false, &evicted);
  REQUIRE_FALSE(third.ok());
  CHECK(third.error() == StreamRefusal::kPerSource);
  CHECK_FALSE(evicted.has_value());
  CHECK(t.size() == 4);
}

TEST_CASE("StreamTable: a new ipv6_prefix regroups the open connections by their address") {
  StreamTable t(small_limits(), 48);
  std::array<uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1};
  ip[15] = 1;
  std::array<uint8_t, 16> other = ip;
  other[7] = 2;  // Same /48, another /64.
  CHECK(t.open(kStart, Endpoint::v6(ip, 1), false).ok());
  CHECK(t.open(kStart, Endpoint::v6(other, 1), false).ok());
  // One /48: its two connections are the limit.
  CHECK_FALSE(t.open(kStart, Endpoint::v6(ip, 2), false).ok());
  // Per /64 each address has one, so one more each is allowed, and no more.
  t.reconfigure(small_limits(), 64);
  CHECK(t.open(kStart, Endpoint::v6(ip, 3), false).ok());
  CHECK_FALSE(t.open(kStart, Endpoint::v6(ip, 4), false).ok());
  CHECK(t.open(kStart, Endpoint::v6(other, 3), false).ok());
  CHECK_FALSE(t.open(kStart, Endpoint::v6(other, 4), false).ok());
}

TEST_CASE("StreamTable frames requests however the bytes are split") {
  std::vector<uint8_t> stream;
  for (uint8_t i = 1; i <= 3; ++i) {
    const auto p = probe(i, i == 2 ? 400 : 0);
    stream.insert(stream.end(), p.begin(), p.end());
  }
  for (const size_t chunk :
       {size_t{1}, size_t{3}, size_t{7}, size_t{20}, size_t{64}, size_t{333}, stream.size()}) {
    CAPTURE(chunk);
    StreamTable t(small_limits(), 64);
    const StreamId id = *t.open(kStart, client(1), false);
    const Feed f = feed(t, id, stream, chunk);
    CHECK_FALSE(f.end);
    CHECK(f.ids == std::vector<uint8_t>{1, 2, 3});
    CHECK(t.counters().requests.get() == 3);
  }
}

TEST_CASE("StreamTable closes a stream that is not ours or announces too much") {
  StreamTable t(small_limits(), 64);
  SUBCASE("a TLS ClientHello on the TCP port") {
    const StreamId id = *t.open(kStart, client(1), false);
    const std::vector<uint8_t> hello{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03};
    CHECK(feed(t, id, hello, 3).end == StreamEnd::kBadFrame);
  }
  SUBCASE("a length field over max_request_size, before the body arrives") {
    const StreamId id = *t.open(kStart, client(1), false);
    std::vector<uint8_t> head = probe(1);
    head.resize(4);
    head[2] = 0xFF;
    head[3] = 0xF0;
    CHECK(feed(t, id, head, 1).end == StreamEnd::kTooLarge);
  }
  SUBCASE("the requests before a bad one are answered") {
    const StreamId id = *t.open(kStart, client(1), false);
    std::vector<uint8_t> bytes = probe(7);
    bytes.insert(bytes.end(), {0xFF, 0xFF, 0xFF, 0xFF});
    const Feed f = feed(t, id, bytes, 5);
    CHECK(f.ids == std::vector<uint8_t>{7});
    CHECK(f.end == StreamEnd::kBadFrame);
  }
}

TEST_CASE("StreamTable ends slow, idle and unshaken connections on time, with their reason") {
  StreamTable t(small_limits(), 64);
  std::vector<std::pair<StreamId, StreamEnd>> expired;

  const StreamId drip = *t.open(kStart, client(1), false);
  const StreamId tls = *t.open(kStart, client(2), true);
  const StreamId busy = *t.open(kStart, client(3), false);
  CHECK(t.next_timeout() == kStart + 2s);

  // The slow drip sends one byte short of a request before its deadline: not enough.
  const std::vector<uint8_t> p = probe(1);
  CHECK_FALSE(feed(t, drip, std::vector<uint8_t>(p.begin(), p.end() - 1), 1).end);
  // The busy one completes a request at 1 s: its deadline becomes idle_timeout from then.
  CHECK(feed(t, busy, p, p.size(), kStart + 1s).ids.size() == 1);

  t.expire(kStart + 2s - 1ms, expired);
  CHECK(expired.empty());
  t.expire(kStart + 2s, expired);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0] == std::pair{drip, StreamEnd::kFirstRequestTimeout});
  expired.clear();

  // The TLS one never finishes its handshake.
  t.expire(kStart + 3s, expired);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0] == std::pair{tls, StreamEnd::kHandshakeTimeout});
  expired.clear();

  CHECK(t.next_timeout() == kStart + 11s);
  t.expire(kStart + 11s, expired);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0] == std::pair{busy, StreamEnd::kIdleTimeout});
  CHECK(t.size() == 0);
  CHECK(t.next_timeout() == kNever);
  CHECK(t.counters().closed[static_cast<size_t>(StreamEnd::kIdleTimeout)].get() == 1);
}

TEST_CASE("StreamTable: after a TLS handshake the first request is due, and none before it") {
  StreamTable t(small_limits(), 64);
  const StreamId id = *t.open(kStart, client(1), true);
  const std::vector<uint8_t> p = probe(1);
  t.handshake_done(kStart + 1s, id);
  CHECK(t.next_timeout() == kStart + 3s);
  CHECK(feed(t, id, p, p.size(), kStart + 2s).ids.size() == 1);

  const StreamId early = *t.open(kStart, client(2), true);
  CHECK(feed(t, early, p, p.size()).end == StreamEnd::kBadFrame);
}

TEST_CASE("StreamTable: a TCP connection may start TLS with its first bytes, and only then") {
  StreamTable t(small_limits(), 64);
  const std::vector<uint8_t> p = probe(1);
  CHECK(proto::starts_tls(0x16));
  CHECK_FALSE(proto::starts_tls(p[0]));

  // Started: the handshake's deadline, counted from the accept, replaces the first
  // request's.
  const StreamId tls = *t.open(kStart, client(1), false);
  CHECK(t.next_timeout() == kStart + 2s);
  CHECK(t.start_tls(tls));
  CHECK(t.next_timeout() == kStart + 3s);  // Of the accept: the wait bought no time.
  CHECK_FALSE(t.start_tls(tls));           // Once.
  CHECK(t.next_timeout() == kStart + 3s);
  std::vector<std::pair<StreamId, StreamEnd>> expired;
  t.expire(kStart + 3s, expired);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0] == std::pair{tls, StreamEnd::kHandshakeTimeout});

  // After a request, or part of one, it is a STUN stream for good.
  const StreamId answered = *t.open(kStart, client(2), false);
  CHECK(feed(t, answered, p, p.size()).ids.size() == 1);
  CHECK_FALSE(t.start_tls(answered));
  const StreamId partial = *t.open(kStart, client(3), false);
  CHECK_FALSE(feed(t, partial, std::vector<uint8_t>(p.begin(), p.begin() + 10), 10).end);
  CHECK_FALSE(t.start_tls(partial));
  // Opened as TLS: nothing to start.
  CHECK_FALSE(t.start_tls(*t.open(kStart, client(4), true)));
  CHECK_FALSE(t.start_tls(999));
}

TEST_CASE("StreamTable bounds the replies waiting for a client that does not read") {
  StreamTable t(small_limits(), 64);
  CHECK(t.may_queue(0, 1000));
  CHECK(t.may_queue(900, 100));
  CHECK_FALSE(t.may_queue(901, 100));
}

}  // namespace turnscout::server
