// Memory across discoveries: the warm path in one round trip, the background refresh and
// its hysteresis, and what happens when the cached leaf is gone.
#include <doctest/doctest.h>

#include "client/core/prober.hpp"
#include "tests/client/fake_server.hpp"
#include "tests/client/scenario.hpp"

namespace turnscout::client::testing {
namespace {

// root (RTT 20) ── eu (30) ── eu-1 (40)
//               └─ us (50) ── us-1 (10)
// A cold discovery goes root → eu → eu-1 in 20 + 30 + 40 = 90 ms.
struct Regions : Scenario {
  Regions() {
    add(server(0, 1), branch("root", {server(1, 1), server(1, 2)}), 10ms);
    add(server(1, 1), branch("eu", {server(2, 1)}), 15ms);
    add(server(1, 2), branch("us", {server(2, 2)}), 25ms);
    eu1 = &add(server(2, 1), leaf("eu-1", turn(21)), 20ms);
    us1 = &add(server(2, 2), leaf("us-1", turn(22)), 5ms);
  }
  DiscoveryResult cold() {
    DiscoveryResult r = discover(options({server(0, 1)}));
    settle();
    return r;
  }
  FakeServer* eu1;
  FakeServer* us1;
};

}  // namespace

TEST_CASE("a warm discovery answers from the cached leaf in one round trip, then refreshes") {
  Regions s;
  const DiscoveryResult first = s.cold();
  REQUIRE(first.ok());
  CHECK(first.total_time == 90ms);
  CHECK_FALSE(first.warm);
  REQUIRE(s.prober.last_path());
  CHECK(s.prober.last_path()->leaf().name == "eu-1");

  s.net.run_for(1s);
  s.record_sends();
  const TimePoint began = s.net.now();
  const DiscoveryResult warm = s.discover(s.options({server(0, 1)}));
  REQUIRE(warm.ok());
  CHECK(warm.warm);
  CHECK(warm.total_time == 40ms);  // eu-1's round trip.
  CHECK(hop_names(warm) == Names{"root", "eu", "eu-1"});
  CHECK(warm.path[2].rtt == 40ms);
  CHECK(service_texts(warm.services) == Names{turn(21)});
  CHECK(warm.reflexive == to_address(kClientV4));
  // The roots and the cached leaf went out together.
  CHECK(s.sends_to(server(0, 1), began) == std::vector<Duration>{0ms});
  CHECK(s.sends_to(server(2, 1), began) == std::vector<Duration>{0ms});
  // probes_sent counts what types.hpp says: the cached leaf and the root at 0 ms, and the
  // refresh walk's Probes to eu and us at 20 ms, before the answer at 40 ms. One round trip
  // to the answer, four datagrams.
  CHECK(warm.probes_sent == 4);

  // The refresh walks on in the background and finds the same leaf again.
  CHECK(s.prober.active() == 1);
  s.settle();
  CHECK(s.net.now() == began + 90ms);
  CHECK(s.sends_to(server(2, 1), began) == std::vector<Duration>{0ms, 50ms});
  CHECK(s.prober.last_path()->leaf().name == "eu-1");
  CHECK(s.prober.path_switches() == 0);
  CHECK(s.prober.poll_result() == std::nullopt);  // A refresh delivers nothing.
}

TEST_CASE("a slow cached leaf met by the walk: its one exchange answers both, warm") {
  // root (RTT 20) ── eu (30) ── eu-1 (60): the walk reaches eu-1 at 50 ms, while the probe
  // the warm discovery sent it at 0 ms is still out; no second probe, and the answer at 60 ms
  // is the cached leaf's own round trip.
  Scenario s;
  s.add(server(0, 1), branch("root", {server(1, 1)}), 10ms);
  s.add(server(1, 1), branch("eu", {server(2, 1)}), 15ms);
  s.add(server(2, 1), leaf("eu-1", turn(21)), 30ms);
  REQUIRE(s.discover(s.options({server(0, 1)})).ok());
  s.settle();
  s.net.run_for(1s);
  s.record_sends();
  const TimePoint began = s.net.now();
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  CHECK(r.warm);
  CHECK(r.total_time == 60ms);
  CHECK(hop_names(r) == Names{"root", "eu", "eu-1"});
  CHECK(s.sends_to(server(2, 1), began) == std::vector<Duration>{0ms});
}

TEST_CASE("a silent cached leaf: the walk answers instead and the cache moves on") {
  Regions s;
  REQUIRE(s.cold().ok());
  s.eu1->config.silent = true;
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  CHECK_FALSE(r.warm);
  // eu-1 is given up (5 attempts, 1.5 s at most), then the walk falls back to "us".
  CHECK(hop_names(r) == Names{"root", "us", "us-1"});
  CHECK(r.total_time < 2s);
  CHECK(count_errors(r, PeerErrorKind::kTimeout) == 1);
  // One exchange (5 attempts) served both the shortcut and eu's only child.
  CHECK(s.eu1->probes.size() == 1 + 5);
  s.settle();
  CHECK(s.prober.last_path()->leaf().name == "us-1");
  CHECK(s.prober.path_switches() == 1);
  CHECK(s.prober.peer(server(2, 1), s.net.now())->health == HealthState::kSuspect);
}

TEST_CASE("hysteresis: the refresh switches leaves only when clearly better") {
  // Make "us" the region that answers first, so the refresh finds us-1; eu-1 stays cached.
  auto refresh_with = [](Duration us1_one_way) {
    Regions s;
    REQUIRE(s.cold().ok());
    s.set_delay(server(1, 2), 5ms);
    s.set_delay(server(2, 2), us1_one_way);
    const DiscoveryResult warm = s.discover(s.options({server(0, 1)}));
    CHECK(warm.warm);
    CHECK(warm.path.back().name == "eu-1");
    s.settle();
    return s.prober.last_path()->leaf().name;
  };
  // eu-1's smoothed RTT is 40 ms. 2/3 of it is 26.7 ms.
  CHECK(refresh_with(14ms) == "eu-1");  // 28 ms: not under 2/3: kept.
  CHECK(refresh_with(13ms) == "us-1");  // 26 ms: under 2/3 and 14 ms better: switch.
  CHECK(refresh_with(5ms) == "us-1");   // 10 ms: switch.
  CHECK(refresh_with(25ms) == "eu-1");  // 50 ms: worse.
}

TEST_CASE("clearly_better: under 2/3 of the old RTT and at least 10 ms better") {
  CHECK(clearly_better(40ms, 26ms));
  CHECK_FALSE(clearly_better(40ms, 27ms));  // 27 * 3 = 81 > 80.
  CHECK_FALSE(clearly_better(24ms, 15ms));  // 2/3, but only 9 ms better.
  CHECK(clearly_better(30ms, 19ms));
  CHECK_FALSE(clearly_better(30ms, 20ms));  // Exactly 2/3 is not under it.
  CHECK_FALSE(clearly_better(10ms, 20ms));
}

TEST_CASE("the cached path is not used with other roots, a blacklisted hop, or when off") {
  Regions s;
  REQUIRE(s.cold().ok());
  s.add(server(0, 2), branch("root2", {server(1, 2)}), 10ms);
  DiscoverOptions other = s.options({server(0, 1), server(0, 2)});
  CHECK_FALSE(s.discover(other).warm);
  s.settle();
  // That cold discovery replaced the cache; this one uses it...
  CHECK(s.discover(s.options({server(0, 1), server(0, 2)})).warm);
  s.settle();
  // ...unless a hop is blacklisted or the caller wants a full walk.
  DiscoverOptions blacklisted = s.options({server(0, 1), server(0, 2)});
  blacklisted.blacklist = {"name:eu"};
  const DiscoveryResult r = s.discover(blacklisted);
  CHECK_FALSE(r.warm);
  CHECK(hop_names(r) == Names{"root", "us", "us-1"});
  s.settle();
  DiscoverOptions off = s.options({server(0, 1), server(0, 2)});
  off.use_last_path = false;
  CHECK_FALSE(s.discover(off).warm);
}

TEST_CASE("a cached leaf that became a branch or overloaded is not a shortcut") {
  Regions s;
  REQUIRE(s.cold().ok());
  s.eu1->config.load = {950, 900};
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  CHECK_FALSE(r.warm);
  REQUIRE_FALSE(r.errors.empty());
  CHECK(r.errors[0].detail == "the last good leaf is overloaded: no shortcut");
}

}  // namespace turnscout::client::testing
