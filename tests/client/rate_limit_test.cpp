// Rate limits: the mirror of the bucket a server announces (so a well-behaved client never
// sends what would be dropped), and the client's own per-server and global limiters.
#include <doctest/doctest.h>

#include <optional>

#include "client/core/prober.hpp"
#include "client/core/send_gate.hpp"
#include "tests/client/fake_server.hpp"
#include "tests/client/scenario.hpp"

namespace turnscout::client::testing {
namespace {

FakeServerConfig limited_leaf(uint32_t burst, uint32_t refill_millitokens) {
  FakeServerConfig c = leaf("solo", turn(1));
  c.flow = proto::FlowControl{burst, refill_millitokens, 1, 1, 0};
  c.enforce_flow = true;
  return c;
}

// One server's record as the send gate sees it: at kStart it announced burst 3 and
// `refill_millitokens`, one token per request; its RTT estimator had one sample of `rtt`
// (RTTVAR rtt / 2), or none.
struct GatedPeer {
  GatedPeer(uint32_t refill_millitokens, std::optional<Duration> rtt)
      : gate(config, kStart), record(config) {
    if (rtt) record.rtt.add_sample(*rtt);
    gate.on_flow_control(kStart, record, proto::FlowControl{3, refill_millitokens, 1, 1, 0});
  }

  TimePoint when_allowed(TimePoint now) {
    return gate.when_allowed(now, record, RequestKind::kProbe);
  }
  // Sends the whole burst at kStart: each request leaves at once.
  void send_burst() {
    for (int i = 0; i < 3; ++i) {
      CHECK(when_allowed(kStart) == kStart);
      gate.charge(kStart, record, RequestKind::kProbe);
    }
  }

  ProberConfig config;
  SendGate gate;
  PeerRecord record;
};

}  // namespace

TEST_CASE("the mirror of an announced bucket holds a probe back instead of losing it") {
  Scenario s;
  FakeServer& root = s.add(server(0, 1), limited_leaf(3, 1000), 10ms);
  DiscoverOptions o = s.options({server(0, 1)});
  std::vector<DiscoveryResult> results;
  for (int i = 0; i < 4; ++i)
    results.push_back(s.discover(o));
  for (const DiscoveryResult& r : results)
    CHECK(r.ok());
  // Burst 3, one token a second. The first reply creates the mirror, charged for the
  // probe already sent; two more pass at once; the fourth waits for a token: 40 ms of
  // refill were there, the remaining 0.96 token takes 960 ms, and the margin after it is
  // twice RTTVAR: three samples of exactly 20 ms leave it at 10 ms * (3/4)^2 = 5.625 ms.
  CHECK(results[0].total_time == 20ms);
  CHECK(results[1].total_time == 20ms);
  CHECK(results[2].total_time == 20ms);
  CHECK(results[3].total_time == 980ms + 11250us);
  CHECK(root.dropped_by_flow == 0);
  CHECK(root.probes.size() == 4);
  CHECK(s.prober.counters().deferred == 1);
  auto info = s.prober.peer(server(0, 1), s.net.now());
  REQUIRE(info);
  CHECK(info->has_mirror);
  CHECK(info->mirror_tokens < 0.1);
}

TEST_CASE("a bucket that cannot admit a probe before the deadline fails the peer at once") {
  Scenario s;
  FakeServer& root = s.add(server(0, 1), limited_leaf(2, 0), 10ms);
  DiscoverOptions o = s.options({server(0, 1)});
  CHECK(s.discover(o).ok());
  CHECK(s.discover(o).ok());
  const DiscoveryResult r = s.discover(o);
  CHECK_FALSE(r.ok());
  CHECK(r.total_time == 0ms);
  CHECK(r.failure == "every root is held back by a rate limit");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].kind == PeerErrorKind::kRateLimited);
  CHECK(r.errors[0].detail == "held back: its bucket will never admit a probe");
  CHECK(root.dropped_by_flow == 0);
  CHECK(root.probes.size() == 2);
}

TEST_CASE("a server that stops announcing a bucket is no longer mirrored") {
  Scenario s;
  FakeServer& root = s.add(server(0, 1), limited_leaf(5, 1000), 10ms);
  DiscoverOptions o = s.options({server(0, 1)});
  CHECK(s.discover(o).ok());
  CHECK(s.prober.peer(server(0, 1), s.net.now())->has_mirror);
  root.config.flow = {};  // Burst 0: no limit for this client.
  root.config.enforce_flow = false;
  CHECK(s.discover(o).ok());
  CHECK_FALSE(s.prober.peer(server(0, 1), s.net.now())->has_mirror);
  for (int i = 0; i < 30; ++i)
    CHECK(s.discover(o).total_time == 20ms);
  CHECK(s.prober.counters().deferred == 0);
}

TEST_CASE("the global limiter spreads a fan-out; the per-server one spaces retransmissions") {
  ProberConfig config;
  config.global = RateLimit{2, 10};  // Two at once, then one per 100 ms.
  Scenario s(1, config);
  s.add(server(0, 1), leaf("a", turn(1)), 300ms);
  s.add(server(0, 2), leaf("b", turn(2)), 300ms);
  s.add(server(0, 3), leaf("c", turn(3)), 10ms);
  s.record_sends();
  DiscoverOptions o = s.options({server(0, 1), server(0, 2), server(0, 3)});
  o.max_attempts = 1;  // No retransmission competes for the tokens.
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(s.sends_to(server(0, 1)) == std::vector<Duration>{0ms});
  CHECK(s.sends_to(server(0, 2)) == std::vector<Duration>{0ms});
  CHECK(s.sends_to(server(0, 3)) == std::vector<Duration>{100ms});
  CHECK(r.total_time == 120ms);
  CHECK(hop_names(r) == Names{"c"});

  ProberConfig per_peer;
  per_peer.per_peer = RateLimit{1, 4};  // One request per 250 ms to any one server.
  Scenario p(1, per_peer);
  FakeServerConfig shy = leaf("shy", turn(1));
  shy.drop_first = 1;
  p.add(server(0, 1), shy, 10ms);
  p.record_sends();
  const DiscoveryResult q = p.discover(p.options({server(0, 1)}));
  REQUIRE(q.ok());
  // The retransmission was due after about 100 ms; the limiter let it go at 250 ms.
  CHECK(p.sends_to(server(0, 1)) == std::vector<Duration>{0ms, 250ms});
  CHECK(q.total_time == 270ms);
}

TEST_CASE("discoveries held back by a mirrored bucket still end by their deadline") {
  // 30 discoveries at once through root -> leaf, both announcing burst 20 and 5 tokens/s:
  // many must wait for tokens, and whatever they do, each delivers a result by 2 s.
  Scenario s;
  FakeServerConfig root = branch("root", {server(1, 1)});
  root.flow = proto::FlowControl{20, 5000, 1, 1, 0};
  root.enforce_flow = true;
  FakeServerConfig solo = leaf("solo", turn(1));
  solo.flow = proto::FlowControl{20, 5000, 1, 1, 0};
  solo.enforce_flow = true;
  s.add(server(0, 1), root, 10ms);
  s.add(server(1, 1), solo, 10ms);
  DiscoverOptions o = s.options({server(0, 1)});
  o.use_last_path = false;
  const TimePoint began = s.net.now();
  for (int i = 0; i < 30; ++i)
    REQUIRE(s.prober.start(s.net.now(), o).ok());
  s.net.run_until(began + 2s + 1ms);
  size_t delivered = 0;
  while (auto r = poll_result(s.prober)) {
    ++delivered;
    CHECK(r->total_time <= 2s);
    if (!r->ok()) CHECK_FALSE(r->failure.empty());
  }
  CHECK(delivered == 30);
  CHECK(s.prober.active() == 0);
}

TEST_CASE("send gate: a full mirror lets its burst leave at once, the next waits a margin") {
  // RTTVAR 4 ms: a margin of 8 ms after the refill instant, one token a second.
  GatedPeer p(1000, 8ms);
  p.send_burst();
  const TimePoint refill = kStart + 1s;
  CHECK(p.when_allowed(kStart) == refill + 8ms);
  CHECK(p.when_allowed(kStart + 500ms) == refill + 8ms);
  // The request woken at the time it was given leaves then; it is not pushed again.
  CHECK(p.when_allowed(refill + 8ms) == refill + 8ms);
  CHECK(p.when_allowed(refill + 30ms) == refill + 30ms);
}

TEST_CASE("send gate: once empty, a request leaves at the refill instant plus the margin") {
  GatedPeer p(1000, 8ms);
  p.send_burst();
  const TimePoint refill = kStart + 1s;
  // The mirror holds a token from the refill instant on, but a request that asks then, or
  // inside the margin, would overtake the one waiting and reach the server early.
  CHECK(p.when_allowed(refill - 1us) == refill + 8ms);
  CHECK(p.when_allowed(refill) == refill + 8ms);
  CHECK(p.when_allowed(refill + 8ms - 1us) == refill + 8ms);
  p.gate.charge(refill + 8ms, p.record, RequestKind::kProbe);
  // The 8 ms earned during the margin stay in the mirror: the next request leaves one
  // refill period after this one, not a second margin later.
  CHECK(p.when_allowed(refill + 8ms) == refill + 1s + 8ms);

  // A request whose tokens were left by the last charge is not held back: after a burst
  // of two out of three, the third leaves at once.
  GatedPeer q(1000, 8ms);
  for (int i = 0; i < 2; ++i) {
    REQUIRE(q.when_allowed(kStart) == kStart);
    q.gate.charge(kStart, q.record, RequestKind::kProbe);
  }
  CHECK(q.when_allowed(kStart + 1ms) == kStart + 1ms);
}

TEST_CASE("send gate: the margin is twice RTTVAR, between 1 ms and 20 ms or a quarter token") {
  struct Case {
    uint32_t refill_millitokens;
    std::optional<Duration> rtt;
    Duration margin;
  };
  const Case cases[] = {
      {1000, 8ms, 8ms},            // Twice RTTVAR (4 ms).
      {1000, 400us, 1ms},          // Twice RTTVAR is 400 us: the floor.
      {1000, 200ms, 20ms},         // Twice RTTVAR is 200 ms: the ceiling.
      {20'000, 200ms, 12500us},    // A quarter of a token refilled every 50 ms.
      {20'000, 8ms, 8ms},          // Under a quarter token: twice RTTVAR.
      {1'000'000, 8ms, 250us},     // A quarter token under 1 ms wins over the floor.
      {1000, std::nullopt, 20ms},  // No sample: the upper bound.
      {20'000, std::nullopt, 12500us},
  };
  for (const Case& c : cases) {
    CAPTURE(c.refill_millitokens);
    CAPTURE(c.rtt.value_or(Duration{-1}).count());
    GatedPeer p(c.refill_millitokens, c.rtt);
    p.send_burst();
    const TimePoint refill = kStart + 1'000'000'000us / c.refill_millitokens;
    CHECK(p.when_allowed(kStart) == refill + c.margin);
  }
  // More samples narrow it: after one of 10 ms and seven equal ones RTTVAR is 5 ms times
  // 3/4 seven times, in whole microseconds 666 us, so the margin is 1332 us.
  GatedPeer p(1000, 10ms);
  for (int i = 0; i < 7; ++i)
    p.record.rtt.add_sample(10ms);
  REQUIRE(p.record.rtt.rttvar() == 666us);
  p.send_burst();
  CHECK(p.when_allowed(kStart) == kStart + 1s + 1332us);
}

}  // namespace turnscout::client::testing
