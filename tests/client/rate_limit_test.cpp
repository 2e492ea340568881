// Rate limits: the mirror of the bucket a server announces (so a well-behaved client never
// sends what would be dropped), and the client's own per-server and global limiters.
#include <doctest/doctest.h>

#include "client/core/prober.hpp"
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

}  // namespace

TEST_CASE("the mirror of an announced bucket holds a probe back instead of losing it") {
  Scenario s;
  FakeServer& root = s.add(server(0, 1), limited_leaf(3, 1000), 10ms);
  DiscoverOptions o = s.options({server(0, 1)});
  std::vector<DiscoveryResult> results;
  for (int i = 0; i < 4; ++i)
    results.push_back(s.discover(o));
  for (const DiscoveryResult& r : results)
    CHECK(r.ok);
  // Burst 3, one token a second. The first reply creates the mirror, charged for the
  // probe already sent; two more pass at once; the fourth waits for a token: 40 ms of
  // refill were there, the remaining 0.96 token takes 960 ms.
  CHECK(results[0].total_time == 20ms);
  CHECK(results[1].total_time == 20ms);
  CHECK(results[2].total_time == 20ms);
  CHECK(results[3].total_time == 980ms);
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
  CHECK(s.discover(o).ok);
  CHECK(s.discover(o).ok);
  const DiscoveryResult r = s.discover(o);
  CHECK_FALSE(r.ok);
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
  CHECK(s.discover(o).ok);
  CHECK(s.prober.peer(server(0, 1), s.net.now())->has_mirror);
  root.config.flow = {};  // Burst 0: no limit for this client.
  root.config.enforce_flow = false;
  CHECK(s.discover(o).ok);
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
  REQUIRE(r.ok);
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
  REQUIRE(q.ok);
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
  while (auto r = s.prober.poll_result()) {
    ++delivered;
    CHECK(r->total_time <= 2s);
    if (!r->ok) CHECK_FALSE(r->failure.empty());
  }
  CHECK(delivered == 30);
  CHECK(s.prober.active() == 0);
}

}  // namespace turnscout::client::testing
