// Speculative descent on the simulated network: a server that knows its children's
// children lists them (GRANDCHILD) to a Probe asking for depth 2, and the client probes
// them with the children, so a 3-level tree costs 2 round trips.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/client/scenario.hpp"

namespace turnscout::client::testing {
namespace {

// A root (10 ms away) over two regions a (at server(1, 1)) and b (server(1, 2)), each with
// one leaf (a-1 at server(2, 1), b-1 at server(2, 2)); one-way delays from the client.
struct TwoRegions {
  std::string a = "eu";
  std::string b = "us";
  Duration a_delay = 5ms;
  Duration b_delay = 15ms;
  Duration a_leaf = 5ms;
  Duration b_leaf = 15ms;
  std::vector<size_t> listed = {0, 1};  // The regions whose leaf the root passes on.
  uint16_t b_leaf_load = 100;
};

struct Leaves {
  FakeServer& a;
  FakeServer& b;
};

Leaves add_two_regions(Scenario& s, const TwoRegions& t = {}) {
  FakeServerConfig root = branch("root", {server(1, 1), server(1, 2)});
  for (const size_t region : t.listed)
    root.grandchildren.push_back({region, server(2, static_cast<uint8_t>(region + 1))});
  s.add(server(0, 1), root, 10ms);
  s.add(server(1, 1), branch(t.a, {server(2, 1)}), t.a_delay);
  s.add(server(1, 2), branch(t.b, {server(2, 2)}), t.b_delay);
  FakeServer& a = s.add(server(2, 1), leaf(t.a + "-1", turn(21)), t.a_leaf);
  FakeServerConfig b = leaf(t.b + "-1", turn(22));
  b.load = {t.b_leaf_load, 900};
  return {a, s.add(server(2, 2), b, t.b_leaf)};
}

}  // namespace

TEST_CASE("speculative: a 3-level tree in 2 round trips, the nearest leaf of any region") {
  Scenario s;
  add_two_regions(s);
  s.record_sends();
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  // The root answers at 20 ms; eu, us and both leaves are probed then; eu-1 answers at 30.
  CHECK(s.sends_to(server(1, 1)) == std::vector<Duration>{20ms});
  CHECK(s.sends_to(server(1, 2)) == std::vector<Duration>{20ms});
  CHECK(s.sends_to(server(2, 1)) == std::vector<Duration>{20ms});
  CHECK(s.sends_to(server(2, 2)) == std::vector<Duration>{20ms});
  CHECK(r.total_time == 30ms);
  CHECK(r.round_trips == 2);
  CHECK(r.probes_sent == 5);
  CHECK(hop_names(r) == Names{"root", "eu", "eu-1"});
  REQUIRE(r.path.size() == 3);
  // eu answered at 30 ms too, with the leaf: its hop has its round trip.
  CHECK(r.path[1].speculative);
  CHECK(r.path[1].rtt == 10ms);
  CHECK(r.path[1].depth == 1);
  CHECK_FALSE(r.path[2].speculative);
  CHECK(r.path[2].depth == 2);
  CHECK(r.path[2].rtt == 10ms);
  CHECK(r.path[2].siblings_probed == 2);  // The leaves of the round, not eu and us.
  CHECK(service_texts(r.services) == Names{turn(21)});
}

TEST_CASE(
    "speculative: off in the client, or unknown to the server, the walk goes level by level") {
  for (const bool client_speculates : {false, true}) {
    CAPTURE(client_speculates);
    Scenario s;
    TwoRegions tree;
    if (client_speculates) tree.listed.clear();  // An old root: it passes nothing on.
    add_two_regions(s, tree);
    DiscoverOptions options = s.options({server(0, 1)});
    options.speculate = client_speculates;
    const DiscoveryResult r = s.discover(options);
    REQUIRE(r.ok());
    CHECK(r.total_time == 40ms);  // 20 + 10 + 10 ms.
    CHECK(r.round_trips == 3);
    CHECK(r.probes_sent == 4);
    CHECK(hop_names(r) == Names{"root", "eu", "eu-1"});
    CHECK_FALSE(r.path[1].speculative);
  }
}

TEST_CASE("speculative: a dead grandchild costs one probe, never a wrong answer") {
  Scenario s;
  FakeServerConfig root = branch("root", {server(1, 1)});
  // The root's word on eu's children is stale: eu-old has died, eu-new is not named yet.
  root.grandchildren = {{0, server(2, 9)}};
  s.add(server(0, 1), root, 10ms);
  s.add(server(1, 1), branch("eu", {server(2, 1)}), 5ms);
  FakeServerConfig dead = leaf("eu-old", turn(29));
  dead.silent = true;
  FakeServer& old = s.add(server(2, 9), dead, 5ms);
  s.add(server(2, 1), leaf("eu-new", turn(21)), 5ms);
  s.record_sends();
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  // eu answers at 30 ms as a branch naming eu-new, which joins the round at once and
  // answers at 40 ms; eu-old, probed at 20 ms, has had longer than that: eu-new wins.
  CHECK(hop_names(r) == Names{"root", "eu", "eu-new"});
  CHECK(r.path[1].speculative);
  CHECK(r.path[1].rtt == 10ms);
  CHECK(r.round_trips == 2);
  CHECK(r.total_time == 40ms);
  CHECK(old.probes.size() == 1);
  CHECK(s.sends_to(server(2, 1)) == std::vector<Duration>{30ms});
}

TEST_CASE("speculative: a leaf waits for the children of a faster branch to have had as long") {
  // The root names only us-1 (far); eu (near) has a nearer leaf the listing left out.
  TwoRegions tree;
  tree.b_delay = 20ms;
  tree.b_leaf = 12ms;
  tree.listed = {1};
  Scenario s;
  add_two_regions(s, tree);
  s.record_sends();
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  // eu answers at 30 ms and eu-1 joins; us-1 answers at 44 ms (24 ms round trip) but eu-1,
  // probed at 30 ms, may answer until 54: it does, at 40 ms, and wins.
  CHECK(s.sends_to(server(2, 1)) == std::vector<Duration>{30ms});
  CHECK(hop_names(r) == Names{"root", "eu", "eu-1"});
  CHECK(r.total_time == 40ms);
  CHECK(r.round_trips == 2);
  // A level-by-level walk finds the same leaf, a round trip later.
  DiscoverOptions greedy = s.options({server(0, 1)});
  greedy.speculate = false;
  Scenario g;
  add_two_regions(g, tree);
  const DiscoveryResult walked = g.discover(greedy);
  REQUIRE(walked.ok());
  CHECK(hop_names(walked) == Names{"root", "eu", "eu-1"});
  CHECK(walked.total_time == 40ms);
  CHECK(walked.round_trips == 3);
}

TEST_CASE("speculative: a round probes at most max_speculative, the least loaded grandchildren") {
  Scenario s;
  FakeServerConfig root = branch("root", {});
  for (uint8_t c = 0; c < 4; ++c) {
    root.children.push_back(server(1, c));
    s.add(server(1, c), branch("region-" + std::to_string(c), {}), 20ms);
    for (uint8_t g = 0; g < 10; ++g) {
      const auto load = static_cast<uint16_t>(100 * g + c);
      root.grandchildren.push_back({c, server(static_cast<uint8_t>(10 + c), g), load});
      s.add(server(static_cast<uint8_t>(10 + c), g), leaf("leaf", turn(g)), 20ms);
    }
  }
  s.add(server(0, 1), root, 5ms);
  s.record_sends();
  DiscoverOptions options = s.options({server(0, 1)});
  options.max_speculative = 12;
  const DiscoveryResult r = s.discover(options);
  REQUIRE(r.ok());
  // 4 regions and the 8 least loaded leaves (loads 0-3 and 100-103: g = 0 and 1 of each).
  size_t probed = 0;
  for (uint8_t c = 0; c < 4; ++c) {
    CHECK(s.sends_to(server(1, c)).size() == 1);
    for (uint8_t g = 0; g < 10; ++g) {
      const size_t sent = s.sends_to(server(static_cast<uint8_t>(10 + c), g)).size();
      CHECK(sent == (g < 2 ? 1u : 0u));
      probed += sent;
    }
  }
  CHECK(probed == 8);
  CHECK(r.probes_sent == 1 + 12);
  CHECK(std::any_of(r.errors.begin(), r.errors.end(), [](const PeerError& e) {
    return e.detail.find("over max_speculative 12") != std::string::npos;
  }));
}

TEST_CASE("speculative: a grandchild the address rules refuse is not probed") {
  Scenario s;
  FakeServerConfig root = branch("root", {server(1, 1)});
  // A private server naming a loopback address: refused, as a CHILD would be.
  root.grandchildren = {{0, Endpoint::v4(127, 0, 0, 1, 3478)}};
  s.add(server(0, 1), root, 10ms);
  s.add(server(1, 1), branch("eu", {server(2, 1)}), 5ms);
  s.add(server(2, 1), leaf("eu-1", turn(21)), 5ms);
  s.record_sends();
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  CHECK(hop_names(r) == Names{"root", "eu", "eu-1"});
  CHECK(s.sends.size() == 3);
  CHECK(std::any_of(r.errors.begin(), r.errors.end(), [](const PeerError& e) {
    return e.address.ip == "127.0.0.1" && e.depth == 2 && e.kind == PeerErrorKind::kSkipped;
  }));
}

TEST_CASE("speculative: a grandchild more private than its own parent is not probed") {
  Scenario s;
  // A private root lists a public child, which names a private address: walked level by
  // level the public child could not send us there, and neither can the root for it.
  const Endpoint public_child = Endpoint::v4(203, 0, 113, 1, 3478);
  FakeServerConfig root = branch("root", {public_child});
  root.grandchildren = {{0, server(2, 7)}};
  s.add(server(0, 1), root, 10ms);
  s.add(public_child, branch("edge", {Endpoint::v4(203, 0, 113, 2, 3478)}), 5ms);
  s.add(Endpoint::v4(203, 0, 113, 2, 3478), leaf("edge-1", turn(2)), 5ms);
  FakeServer& hidden = s.add(server(2, 7), leaf("hidden", turn(7)), 1ms);
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  CHECK(hop_names(r) == Names{"root", "edge", "edge-1"});
  CHECK(hidden.probes.empty());
}

TEST_CASE("speculative: the grandchildren of a child that may not be probed are not either") {
  Scenario s;
  FakeServer& eu_leaf = add_two_regions(s).a;
  DiscoverOptions options = s.options({server(0, 1)});
  options.blacklist = {"addr:" + to_string(server(1, 1))};
  const DiscoveryResult r = s.discover(options);
  REQUIRE(r.ok());
  CHECK(hop_names(r) == Names{"root", "us", "us-1"});
  CHECK(eu_leaf.probes.empty());
}

TEST_CASE("speculative: a branch that wins goes on with the children already probed") {
  Scenario s;
  FakeServerConfig root = branch("root", {server(1, 1)});
  root.grandchildren = {{0, server(2, 9)}};  // Stale: eu's leaf is eu-slow now.
  s.add(server(0, 1), root, 10ms);
  s.add(server(1, 1), branch("eu", {server(2, 1)}), 5ms);
  FakeServerConfig dead = leaf("eu-old", turn(29));
  dead.silent = true;
  s.add(server(2, 9), dead, 5ms);
  FakeServer& slow = s.add(server(2, 1), leaf("eu-slow", turn(21)), 20ms);
  s.record_sends();
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  // eu answers at 30 ms and eu-slow joins then; nothing deeper answers within eu's round
  // trip and the grace window (50 ms), so eu wins and eu-slow's first probe is waited for:
  // its answer at 70 ms, no second probe.
  CHECK(hop_names(r) == Names{"root", "eu", "eu-slow"});
  CHECK(slow.probes.size() == 1);
  CHECK(s.sends_to(server(2, 1)) == std::vector<Duration>{30ms});
  CHECK(r.total_time == 70ms);
  CHECK(r.round_trips == 3);
}

TEST_CASE("speculative: an overloaded leaf ranks after a healthy branch whose child is coming") {
  // Only the overloaded leaf under "far" is listed; "near" has a healthy one.
  Scenario s;
  add_two_regions(s, {.a = "near",
                      .b = "far",
                      .a_delay = 2ms,
                      .b_delay = 30ms,
                      .a_leaf = 6ms,
                      .b_leaf = 5ms,
                      .listed = {1},
                      .b_leaf_load = 950});
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  // near answers at 24 ms, near-1 joins and near waits for it; far-1 answers at 30 ms but,
  // overloaded, ranks after near; near-1 answers at 36 and wins.
  CHECK(hop_names(r) == Names{"root", "near", "near-1"});
  CHECK(r.total_time == 36ms);
}

TEST_CASE("speculative: a held leaf wins when its hold ends, after a branch's window closed") {
  Scenario s;
  add_two_regions(s, {.a = "near",
                      .b = "far",
                      .a_delay = 2ms,
                      .b_delay = 30ms,
                      .a_leaf = 15ms,
                      .b_leaf = 8ms,
                      .listed = {1}});
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  // near answers at 24 ms, near-1 joins (it would answer at 54) and near's window runs to
  // 38 ms; far-1 answers at 36 ms and is held until near-1 has had as long (24 + 16 = 40).
  // The window closing at 38 decides nothing while the hold runs (it used to spin there);
  // at 40 far-1 wins, before far itself has answered (its hop has no name yet).
  CHECK(hop_names(r) == Names{"root", "", "far-1"});
  CHECK(r.path[1].speculative);
  CHECK(r.path[1].address == to_address(server(1, 2)));
  CHECK(r.total_time == 40ms);
  CHECK(r.round_trips == 2);
}

}  // namespace turnscout::client::testing
