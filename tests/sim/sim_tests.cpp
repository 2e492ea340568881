#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/sim/sim_network.hpp"
#include "tests/sim/toy_nodes.hpp"

namespace turnscout::sim {
namespace {

// Not zero, so a network that ignored its start time would be caught.
const TimePoint kStart = TimePoint{} + 1000s;
const Endpoint kA = Endpoint::v4(10, 0, 0, 1, 5000);
const Endpoint kB = Endpoint::v4(10, 0, 0, 2, 6000);
const Endpoint kNobody = Endpoint::v4(10, 9, 9, 9, 7000);
const Endpoint kB6 =
    Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 6000);
const Endpoint kA6 =
    Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 5000);

std::vector<uint64_t> indices(const std::vector<Received>& received) {
  std::vector<uint64_t> out;
  for (const Received& r : received)
    out.push_back(ping_index(r.bytes));
  return out;
}

std::vector<uint64_t> indices(const std::vector<Pinger::Reply>& replies) {
  std::vector<uint64_t> out;
  for (const Pinger::Reply& r : replies)
    out.push_back(r.index);
  return out;
}

// A pinger at kA and an echo at kB: the fixture of most tests below.
struct PingPair {
  PingPair(uint64_t seed, uint64_t count, Duration interval)
      : net(seed, kStart), pinger(kA, kB, count, interval, kStart) {
    p = net.add_node(pinger, {kA});
    e = net.add_node(echo, {kB});
  }

  SimNetwork net;
  Pinger pinger;
  EchoNode echo;
  NodeId p = kNoNode;
  NodeId e = kNoNode;
};

bool balanced(const LinkCounters& c) {
  return c.sent + c.duplicated == c.delivered + c.lost + c.tap_dropped + c.blocked;
}

TEST_CASE("a fixed delay is exact, per direction") {
  SimNetwork net(1, kStart);
  Pinger pinger(kA, kB, 5, 100ms, kStart + 10ms);
  EchoNode echo;
  const NodeId p = net.add_node(pinger, {kA});
  const NodeId e = net.add_node(echo, {kB});
  net.set_link(p, e, {.delay = 7ms});
  net.set_link(e, p, {.delay = 13ms});
  net.run_until_idle();

  REQUIRE(echo.received.size() == 5);
  REQUIRE(pinger.replies.size() == 5);
  for (uint64_t i = 0; i < 5; ++i) {
    const TimePoint sent = kStart + 10ms + 100ms * static_cast<int>(i);
    CHECK(pinger.sent_at[i] == sent);
    CHECK(echo.received[i].at == sent + 7ms);
    CHECK(echo.received[i].local == kB);
    CHECK(echo.received[i].remote == kA);
    CHECK(echo.received[i].bytes == ping_bytes(i));
    CHECK(pinger.replies[i].index == i);
    CHECK(pinger.replies[i].rtt == 20ms);
  }
  CHECK(net.now() == kStart + 430ms);
  CHECK(net.counters(p, e) == LinkCounters{.sent = 5, .delivered = 5});
  CHECK(net.counters(kB, kA) == LinkCounters{.sent = 5, .delivered = 5});
  CHECK(net.totals().timeouts == 5);
  CHECK(net.totals().events == 15);
}

TEST_CASE("jitter stays within [delay, delay + jitter] and spans it") {
  PingPair t(3, 2000, 1ms);
  t.net.set_link(t.p, t.e, {.delay = 10ms, .jitter = 4ms});
  t.net.run_until_idle();

  REQUIRE(t.echo.received.size() == 2000);
  Duration lo = Duration::max();
  Duration hi = Duration::min();
  double sum_us = 0;
  for (const Received& r : t.echo.received) {
    const Duration one_way = r.at - t.pinger.sent_at[ping_index(r.bytes)];
    lo = std::min(lo, one_way);
    hi = std::max(hi, one_way);
    sum_us += static_cast<double>(one_way.count());
  }
  CHECK(lo >= 10ms);
  CHECK(hi <= 14ms);
  CHECK(lo < 10ms + 100us);
  CHECK(hi > 14ms - 100us);
  // Uniform on [0, 4000] us: mean 2000, standard error 4000 / sqrt(12 * 2000) ~ 26 us.
  CHECK(std::abs(sum_us / 2000.0 - 12000.0) < 150.0);
  // The way back is instant: each reply lands when its ping did.
  REQUIRE(t.pinger.replies.size() == 2000);
  for (size_t i = 0; i < 2000; ++i)
    CHECK(t.pinger.replies[i].at == t.echo.received[i].at);
}

struct TraceEntry {
  int64_t at_us;
  NodeId from;
  NodeId to;
  std::vector<uint8_t> bytes;
  friend bool operator==(const TraceEntry&, const TraceEntry&) = default;
};

// Everything sent (from the tap) and everything the pinger got back, with times.
std::vector<TraceEntry> impaired_trace(uint64_t seed) {
  PingPair t(seed, 300, 2ms);
  const LinkParams bad{.delay = 5ms, .jitter = 6ms, .loss = 0.2, .duplicate = 0.1};
  t.net.set_path(t.p, t.e, bad);
  std::vector<TraceEntry> trace;
  t.net.set_tap([&trace](const TapEvent& ev) {
    trace.push_back({ev.time.time_since_epoch().count(),
                     ev.from_node,
                     ev.to_node,
                     {ev.bytes.begin(), ev.bytes.end()}});
    return TapAction::kPass;
  });
  t.net.run_until_idle();
  for (const Pinger::Reply& r : t.pinger.replies) {
    trace.push_back({r.at.time_since_epoch().count(), t.e, t.p, ping_bytes(r.index)});
  }
  return trace;
}

TEST_CASE("a seed gives one trace; another seed gives another") {
  const std::vector<TraceEntry> first = impaired_trace(7);
  CHECK(first.size() > 500);
  CHECK(impaired_trace(7) == first);
  CHECK(impaired_trace(8) != first);
}

TEST_CASE("loss rate is close to the configured probability") {
  for (uint64_t seed : {1u, 2u, 3u}) {
    CAPTURE(seed);
    PingPair t(seed, 10'000, 1ms);
    t.net.set_link(t.p, t.e, {.delay = 1ms, .loss = 0.1});
    t.net.run_until_idle();
    const LinkCounters c = t.net.counters(t.p, t.e);
    CHECK(c.sent == 10'000);
    // Binomial(10000, 0.1): mean 1000, standard deviation 30; five of them either side.
    CHECK(c.lost >= 850);
    CHECK(c.lost <= 1150);
    CHECK(c.delivered == c.sent - c.lost);
    CHECK(t.echo.received.size() == c.delivered);
    CHECK(t.net.counters(t.e, t.p).lost == 0);
    CHECK(t.pinger.replies.size() == c.delivered);
  }
}

TEST_CASE("loss 1 drops everything, loss 0 nothing") {
  PingPair t(5, 200, 1ms);
  t.net.set_link(t.p, t.e, {.loss = 1.0});
  t.net.set_link(t.e, t.p, {.loss = 0.0});
  t.net.run_until_idle();
  CHECK(t.net.counters(t.p, t.e) == LinkCounters{.sent = 200, .lost = 200});
  CHECK(t.echo.received.empty());
}

TEST_CASE("duplication delivers extra copies at the configured rate") {
  PingPair t(11, 4000, 1ms);
  t.net.set_link(t.p, t.e, {.delay = 2ms, .jitter = 1ms, .duplicate = 0.25});
  t.net.run_until_idle();
  const LinkCounters c = t.net.counters(t.p, t.e);
  // Binomial(4000, 0.25): mean 1000, standard deviation 27.
  CHECK(c.duplicated >= 860);
  CHECK(c.duplicated <= 1140);
  CHECK(c.delivered == c.sent + c.duplicated);
  CHECK(t.echo.received.size() == 4000 + c.duplicated);
  // Each echoed copy comes back: the pinger sees every duplicate.
  CHECK(t.pinger.replies.size() == 4000 + c.duplicated);
}

size_t inversions(const std::vector<uint64_t>& order) {
  size_t count = 0;
  for (size_t i = 1; i < order.size(); ++i)
    count += order[i] < order[i - 1] ? 1 : 0;
  return count;
}

TEST_CASE("jitter reorders unless the link is FIFO") {
  for (bool reorder : {true, false}) {
    CAPTURE(reorder);
    PingPair t(13, 500, 1ms);
    t.net.set_link(t.p, t.e, {.delay = 10ms, .jitter = 5ms, .reorder = reorder});
    t.net.run_until_idle();
    REQUIRE(t.echo.received.size() == 500);
    const std::vector<uint64_t> order = indices(t.echo.received);
    if (reorder) {
      CHECK(inversions(order) > 50);
      continue;
    }
    CHECK(inversions(order) == 0);
    for (size_t i = 0; i < order.size(); ++i) {
      const Duration one_way = t.echo.received[i].at - t.pinger.sent_at[i];
      CHECK(one_way >= 10ms);
      CHECK(one_way <= 15ms);
      if (i > 0) CHECK(t.echo.received[i].at >= t.echo.received[i - 1].at);
    }
  }
}

TEST_CASE("the tap sees every datagram and can drop chosen ones") {
  PingPair t(17, 3, 10ms);
  t.net.set_path(t.p, t.e, {.delay = 1ms});
  std::vector<TapEvent> seen;
  std::vector<std::vector<uint8_t>> payloads;
  bool dropped = false;
  t.net.set_tap([&](const TapEvent& ev) {
    seen.push_back(ev);
    payloads.emplace_back(ev.bytes.begin(), ev.bytes.end());
    if (ev.to_node == t.e && !dropped) {  // Drop the first ping only.
      dropped = true;
      return TapAction::kDrop;
    }
    return TapAction::kPass;
  });
  t.net.run_until_idle();

  CHECK(indices(t.echo.received) == std::vector<uint64_t>{1, 2});
  CHECK(indices(t.pinger.replies) == std::vector<uint64_t>{1, 2});
  REQUIRE(seen.size() == 5);
  CHECK(seen[0].time == kStart);
  CHECK(seen[0].from_node == t.p);
  CHECK(seen[0].to_node == t.e);
  CHECK(seen[0].from == kA);
  CHECK(seen[0].to == kB);
  CHECK(payloads[0] == ping_bytes(0));
  CHECK(seen[1].time == kStart + 10ms);
  CHECK(seen[2].time == kStart + 11ms);  // The echo of ping 1.
  CHECK(seen[2].from_node == t.e);
  CHECK(t.net.counters(t.p, t.e) == LinkCounters{.sent = 3, .delivered = 2, .tap_dropped = 1});
}

TEST_CASE("a down node receives nothing and comes back") {
  PingPair t(19, 10, 10ms);
  t.net.set_path(t.p, t.e, {.delay = 1ms});
  t.net.run_until(kStart + 25ms);
  t.net.set_node_down(t.e, true);
  CHECK(t.net.node_down(t.e));
  t.net.run_until(kStart + 55ms);
  t.net.set_node_down(t.e, false);
  t.net.run_until_idle();

  CHECK(indices(t.echo.received) == std::vector<uint64_t>{0, 1, 2, 6, 7, 8, 9});
  CHECK(indices(t.pinger.replies) == std::vector<uint64_t>{0, 1, 2, 6, 7, 8, 9});
  CHECK(t.net.counters(t.p, t.e).blocked == 3);
  CHECK(balanced(t.net.counters(t.p, t.e)));
}

TEST_CASE("a datagram in flight to a node that goes down is dropped on arrival") {
  PingPair t(23, 1, 10ms);
  t.net.set_path(t.p, t.e, {.delay = 5ms});
  t.net.run_until(kStart + 2ms);
  CHECK(t.net.in_flight() == 1);
  t.net.set_node_down(t.e, true);
  t.net.run_until_idle();
  CHECK(t.echo.received.empty());
  CHECK(t.net.counters(t.p, t.e) == LinkCounters{.sent = 1, .blocked = 1});
}

TEST_CASE("a down node gets no timeouts and sends nothing; overdue ones fire when it is up") {
  PingPair t(29, 10, 10ms);
  t.net.run_until(kStart + 25ms);
  t.net.set_node_down(t.p, true);
  t.net.run_until(kStart + 65ms);
  CHECK(t.pinger.timeouts.size() == 3);
  t.net.set_node_down(t.p, false);
  t.net.run_until_idle();

  const std::vector<TimePoint> expected = {
      kStart,        kStart + 10ms, kStart + 20ms, kStart + 65ms, kStart + 65ms,
      kStart + 65ms, kStart + 65ms, kStart + 70ms, kStart + 80ms, kStart + 90ms};
  CHECK(t.pinger.timeouts == expected);
  CHECK(t.net.counters(t.e, t.p) == LinkCounters{.sent = 10, .delivered = 10});

  // What a core queued before its node went down was sent just before the crash.
  t.echo.send({kB, kA, ping_bytes(98)});
  t.net.set_node_down(t.e, true);
  t.net.run_until_idle();
  CHECK(t.net.counters(t.e, t.p) == LinkCounters{.sent = 11, .delivered = 11});

  // A core poked directly while its node is down: the output is taken and dropped.
  t.echo.send({kB, kA, ping_bytes(99)});
  t.net.kick(t.e);
  t.net.run_until_idle();
  CHECK(t.net.counters(t.e, t.p) == LinkCounters{.sent = 12, .delivered = 11, .blocked = 1});
}

TEST_CASE("a partition cuts both ways, including what is in flight, until healed") {
  PingPair t(31, 10, 10ms);
  t.net.set_path(t.p, t.e, {.delay = 8ms});
  t.net.run_until(kStart + 25ms);
  t.net.partition(t.p, t.e);
  CHECK(t.net.partitioned(t.e, t.p));
  t.net.run_until(kStart + 55ms);
  t.net.heal(t.e, t.p);
  CHECK_FALSE(t.net.partitioned(t.p, t.e));
  t.net.run_until_idle();

  // Ping 1's echo and ping 2 were in flight at 25 ms; pings 3-5 were sent into the cut.
  CHECK(indices(t.echo.received) == std::vector<uint64_t>{0, 1, 6, 7, 8, 9});
  CHECK(indices(t.pinger.replies) == std::vector<uint64_t>{0, 6, 7, 8, 9});
  CHECK(t.net.counters(t.p, t.e).blocked == 4);
  CHECK(t.net.counters(t.e, t.p).blocked == 1);
  CHECK(balanced(t.net.counters(t.p, t.e)));
  CHECK(balanced(t.net.counters(t.e, t.p)));
}

TEST_CASE("a datagram to an address nobody owns is dropped and counted") {
  SimNetwork net(37, kStart);
  Pinger pinger(kA, kNobody, 3, 1ms, kStart);
  const NodeId p = net.add_node(pinger, {kA});
  NodeId tapped_to = 0;
  net.set_tap([&tapped_to](const TapEvent& ev) {
    tapped_to = ev.to_node;
    return TapAction::kPass;
  });
  net.run_until_idle();
  CHECK(net.totals().unknown_destination == 3);
  CHECK(net.totals().links == LinkCounters{});
  CHECK(tapped_to == kNoNode);
  CHECK(net.counters(p, p) == LinkCounters{});
  CHECK(net.errors().empty());
}

TEST_CASE("a datagram from an address its node does not own is flagged") {
  SimNetwork net(41, kStart);
  EchoNode a;
  EchoNode b;
  const NodeId na = net.add_node(a, {kA});
  net.add_node(b, {kB});
  a.send({kNobody, kB, ping_bytes(1)});
  net.kick(na);
  net.run_until_idle();
  CHECK(b.received.empty());
  CHECK(net.totals().bad_source == 1);
  REQUIRE(net.errors().size() == 1);
  CHECK(net.errors()[0].find("10.9.9.9:7000") != std::string::npos);
}

TEST_CASE("an unset local address means the node's address of the remote's family") {
  SimNetwork net(43, kStart);
  EchoNode a;
  EchoNode b;
  const NodeId na = net.add_node(a, {kA, kA6});
  net.add_node(b, {kB, kB6});
  net.set_default_link({.delay = 1ms});
  a.send({Endpoint{}, kB6, ping_bytes(1)});
  a.send({Endpoint{}, kB, ping_bytes(2)});
  net.run_until(kStart + 2ms);  // One round trip; stop before the two echoes ping-pong on.
  REQUIRE(b.received.size() == 2);
  CHECK(b.received[0].remote == kA6);
  CHECK(b.received[0].local == kB6);
  CHECK(b.received[1].remote == kA);
  CHECK(a.received.size() == 2);
  CHECK(net.errors().empty());
  CHECK(net.node_of(kA6) == na);
}

TEST_CASE("timeouts fire exactly at next_timeout, or at once when already due") {
  const std::vector<TimePoint> deadlines = {kStart - 5ms, kStart + 3ms, kStart + 3ms + 1us,
                                            kStart + 250ms, kStart + 3600s};
  SimNetwork net(47, kStart);
  AlarmNode alarm(deadlines);
  net.add_node(alarm, {kA});
  CHECK(net.next_event_time() == kStart);
  net.run_until_idle();
  const std::vector<TimePoint> expected = {kStart, kStart + 3ms, kStart + 3ms + 1us, kStart + 250ms,
                                           kStart + 3600s};
  CHECK(alarm.fired == expected);
  CHECK(net.now() == kStart + 3600s);
  CHECK(net.idle());
}

// Logs timeouts ("T") and datagrams ("D") in the order the network calls it.
class LogNode final : public SansIoNode {
 public:
  void on_datagram(TimePoint, const Endpoint&, const Endpoint&, std::span<const uint8_t>) override {
    log += "D";
  }
  void on_timeout(TimePoint) override {
    log += "T";
    alarm = kNever;
  }
  TimePoint next_timeout() const override { return alarm; }
  void poll_transmit(std::vector<Datagram>&) override {}

  TimePoint alarm = kNever;
  std::string log;
};

TEST_CASE("events at the same instant run in the order they were scheduled") {
  for (bool datagram_first : {true, false}) {
    CAPTURE(datagram_first);
    SimNetwork net(51, kStart);
    EchoNode sender;
    LogNode logger;
    const NodeId s = net.add_node(sender, {kA});
    const NodeId l = net.add_node(logger, {kB});
    net.set_link(s, l, {.delay = 10ms});
    for (int i = 0; i < 2; ++i) {
      if ((i == 0) == datagram_first) {
        sender.send({kA, kB, ping_bytes(1)});
        net.kick(s);
      } else {
        logger.alarm = kStart + 10ms;
        net.kick(l);
      }
    }
    net.run_until_idle();
    CHECK(logger.log == (datagram_first ? "DT" : "TD"));
    CHECK(net.now() == kStart + 10ms);
  }
}

TEST_CASE("the event budget turns a core that never quiets down into an error") {
  SimNetwork net(53, kStart);
  SpinNode spin;
  const NodeId s = net.add_node(spin, {kA});
  net.set_max_events(1000);
  CHECK_THROWS_AS(net.run_for(1s), SimError);
  CHECK(spin.calls == 1000);
  CHECK(net.now() == kStart);
  CHECK_THROWS_WITH_AS(net.run_until_idle(50), doctest::Contains("timeout of node 0"), SimError);
  CHECK(spin.calls == 1050);
  net.set_node_down(s, true);
  net.run_until_idle(50);  // Idle now: returns without throwing.
  CHECK(spin.calls == 1050);
}

TEST_CASE("run_until with a predicate stops at the event that satisfies it") {
  PingPair t(59, 5, 10ms);
  t.net.set_path(t.p, t.e, {.delay = 2ms});
  const bool got_three = t.net.run_until([&] { return t.pinger.replies.size() >= 3; }, kStart + 1s);
  CHECK(got_three);
  CHECK(t.net.now() == kStart + 24ms);
  const bool got_ten = t.net.run_until([&] { return t.pinger.replies.size() >= 10; }, kStart + 1s);
  CHECK_FALSE(got_ten);
  CHECK(t.net.now() == kStart + 1s);
  CHECK(t.pinger.replies.size() == 5);
}

TEST_CASE("time jumps to the deadline or the next event; step goes one event at a time") {
  PingPair t(61, 1, 10ms);
  t.net.set_path(t.p, t.e, {.delay = 3ms});
  CHECK(t.net.step());  // The pinger's first timeout, due at the start.
  CHECK(t.net.now() == kStart);
  CHECK(t.net.step());  // The ping arrives.
  CHECK(t.net.now() == kStart + 3ms);
  CHECK(t.echo.received.size() == 1);
  CHECK(t.net.step());  // The echo arrives.
  CHECK(t.net.now() == kStart + 6ms);
  CHECK_FALSE(t.net.step());
  t.net.run_for(2s);
  CHECK(t.net.now() == kStart + 6ms + 2s);
  t.net.run_until(kStart);  // Never backwards.
  CHECK(t.net.now() == kStart + 6ms + 2s);
}

TEST_CASE("kick carries what a test queued on a core directly") {
  SimNetwork net(67, kStart);
  EchoNode a;
  EchoNode b;
  const NodeId na = net.add_node(a, {kA});
  const NodeId nb = net.add_node(b, {kB});
  net.set_link(na, nb, {.delay = 4ms});
  net.set_link(nb, na, {.loss = 1.0});
  a.send({kA, kB, ping_bytes(5)});
  CHECK(net.in_flight() == 0);
  net.kick(na);
  CHECK(net.in_flight() == 1);
  CHECK(net.next_event_time() == kStart + 4ms);
  a.send({kA, kB, ping_bytes(6)});  // No kick: the next driving call flushes it.
  net.run_until_idle();
  CHECK(indices(b.received) == std::vector<uint64_t>{5, 6});
  CHECK(b.received[1].at == kStart + 4ms);
}

TEST_CASE("per-address links override node links, which override the default") {
  SimNetwork net(71, kStart);
  EchoNode a;
  EchoNode b;
  const NodeId na = net.add_node(a, {kA, kA6});
  const NodeId nb = net.add_node(b, {kB, kB6});
  net.set_default_link({.delay = 5ms});
  CHECK(net.link_params(kA, kB).delay == 5ms);
  net.set_link(na, nb, {.delay = 7ms});
  CHECK(net.link_params(kA, kB).delay == 7ms);
  CHECK(net.link_params(kB, kA).delay == 5ms);
  net.set_path(kA6, kB6, {.delay = 9ms, .loss = 1.0});
  CHECK(net.link_params(kA6, kB6).delay == 9ms);
  CHECK(net.link_params(kB6, kA6).loss == 1.0);
  CHECK(net.link_params(kA, kB).delay == 7ms);

  // IPv6 between the two is broken, IPv4 works.
  a.send({kA6, kB6, ping_bytes(1)});
  a.send({kA, kB, ping_bytes(2)});
  net.run_until(kStart + 8ms);
  CHECK(indices(b.received) == std::vector<uint64_t>{2});
  CHECK(b.received[0].at == kStart + 7ms);
  CHECK(net.counters(kA6, kB6) == LinkCounters{.sent = 1, .lost = 1});
  CHECK(net.counters(na, nb) == LinkCounters{.sent = 2, .delivered = 1, .lost = 1});
}

TEST_CASE("misuse fails loudly") {
  SimNetwork net(73, kStart);
  EchoNode a;
  EchoNode b;
  const NodeId na = net.add_node(a, {kA});
  CHECK_THROWS_AS(net.add_node(b, {kA}), SimError);
  CHECK_THROWS_AS(net.add_node(b, {kB, kB}), SimError);
  CHECK_THROWS_AS(net.add_node(b, {}), SimError);
  CHECK_THROWS_AS(net.add_node(b, {Endpoint{}}), SimError);
  CHECK(net.node_count() == 1);
  CHECK_THROWS_AS(net.set_link(na, 7, {}), SimError);
  CHECK_THROWS_AS(net.set_link(kA, kNobody, {}), SimError);
  CHECK_THROWS_AS(net.set_link(na, na, {.loss = 1.5}), SimError);
  CHECK_THROWS_AS(net.set_link(na, na, {.delay = -1ms}), SimError);
  CHECK_THROWS_AS(net.set_default_link({.duplicate = -0.1}), SimError);
  CHECK_THROWS_AS(net.set_node_down(3, true), SimError);
  CHECK(net.node_of(kB) == kNoNode);
  const NodeId nb = net.add_node(b, {kB});  // The failed attempts left kB free.
  CHECK(nb == 1);
}

TEST_CASE("counters balance under every impairment at once") {
  PingPair t(79, 3000, 1ms);
  t.net.set_path(t.p, t.e, {.delay = 3ms, .jitter = 3ms, .loss = 0.1, .duplicate = 0.1});
  uint64_t calls = 0;
  t.net.set_tap([&calls](const TapEvent&) {
    return ++calls % 50 == 0 ? TapAction::kDrop : TapAction::kPass;
  });
  t.net.run_until(kStart + 1s);
  t.net.partition(t.p, t.e);
  t.net.run_until(kStart + 1500ms);
  t.net.heal(t.p, t.e);
  t.net.run_until_idle();
  for (const LinkCounters& c : {t.net.counters(t.p, t.e), t.net.counters(t.e, t.p)}) {
    CHECK(c.sent > 0);
    CHECK(c.lost > 0);
    CHECK(c.duplicated > 0);
    CHECK(c.tap_dropped > 0);
    CHECK(c.blocked > 0);
    CHECK(balanced(c));
  }
  const NetworkCounters totals = t.net.totals();
  CHECK(totals.links.delivered == t.echo.received.size() + t.pinger.replies.size());
  CHECK(balanced(totals.links));
}

TEST_CASE("many nodes and many datagrams stay cheap") {
  // 40 pingers to one echo, 10% loss each way: 100,000 pings plus their echoes.
  SimNetwork net(83, kStart);
  EchoNode echo;
  const NodeId e = net.add_node(echo, {kB});
  std::vector<std::unique_ptr<Pinger>> pingers;
  for (uint8_t i = 0; i < 40; ++i) {
    const Endpoint local = Endpoint::v4(10, 1, 0, i, 5000);
    pingers.push_back(std::make_unique<Pinger>(local, kB, 2500, 1ms, kStart + 1us * i));
    net.add_node(*pingers.back(), {local});
  }
  net.set_default_link({.delay = 10ms, .jitter = 2ms, .loss = 0.1});
  net.run_until_idle(2'000'000);
  const NetworkCounters totals = net.totals();
  CHECK(totals.links.sent == 100'000 + echo.received.size());
  // Binomial(100000, 0.1) into the echo: mean 10000, standard deviation ~95.
  CHECK(echo.received.size() >= 89'500);
  CHECK(echo.received.size() <= 90'500);
  CHECK(net.counters(e, e) == LinkCounters{});
  CHECK(balanced(totals.links));
}

}  // namespace
}  // namespace turnscout::sim
