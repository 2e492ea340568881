// Scenarios of one discovery on the simulated network: fan-out, selection, alternates,
// retransmission, backtracking, the deadline, and replies that must be ignored.
#include <doctest/doctest.h>

#include <vector>

#include "client/core/prober.hpp"
#include "tests/client/fake_server.hpp"
#include "tests/client/scenario.hpp"
#include "tests/sim/toy_nodes.hpp"

namespace turnscout::client::testing {

TEST_CASE("fan-out: every candidate of a level at once, and the first reply wins each level") {
  Scenario s;
  s.add(server(0, 1), branch("root-a", {server(1, 1), server(1, 2)}), 10ms);
  s.add(server(0, 2), branch("root-b", {server(1, 3)}), 25ms);
  s.add(server(1, 1), branch("eu", {server(2, 1)}), 15ms);
  s.add(server(1, 2), branch("us", {server(2, 3)}), 5ms);
  s.add(server(1, 3), branch("asia", {server(2, 4)}), 5ms);
  s.add(server(2, 1), leaf("eu-1", turn(21)), 5ms);
  s.add(server(2, 3), leaf("us-1", turn(23)), 8ms);
  s.add(server(2, 4), leaf("asia-1", turn(24)), 5ms);
  s.record_sends();

  const DiscoveryResult r = s.discover(s.options({server(0, 1), server(0, 2)}));
  REQUIRE(r.ok());
  // Both roots at 0; root-a answers at 20ms and both its children are probed then; "us"
  // answers at 30ms, its leaf at 46ms: the sum of the round trips on the path.
  CHECK(s.sends_to(server(0, 1)) == std::vector<Duration>{0ms});
  CHECK(s.sends_to(server(0, 2)) == std::vector<Duration>{0ms});
  CHECK(s.sends_to(server(1, 1)) == std::vector<Duration>{20ms});
  CHECK(s.sends_to(server(1, 2)) == std::vector<Duration>{20ms});
  CHECK(s.sends_to(server(2, 3)) == std::vector<Duration>{30ms});
  CHECK(s.sends_to(server(1, 3)).empty());
  CHECK(s.sends.size() == 5);
  CHECK(r.total_time == 46ms);
  CHECK(r.probes_sent == 5);
  CHECK(hop_names(r) == Names{"root-a", "us", "us-1"});
  REQUIRE(r.path.size() == 3);
  CHECK(r.path[0].rtt == 20ms);
  CHECK(r.path[1].rtt == 10ms);
  CHECK(r.path[2].rtt == 16ms);
  CHECK(r.path[0].siblings_probed == 2);
  CHECK(r.path[0].siblings_answered == 1);
  CHECK(r.path[1].siblings_probed == 2);
  CHECK(r.path[2].depth == 2);
  CHECK(r.path[2].address == to_address(server(2, 3)));
  CHECK(r.path[2].load_permille == 100);
  CHECK(r.path[2].overload_limit_permille == 900);
  CHECK(service_texts(r.services) == Names{turn(23)});
  CHECK(r.services[0].port == 3478);
  CHECK(r.services[0].node_name == "us-1");
  CHECK(r.reflexive == to_address(kClientV4));
  CHECK(r.errors.empty());
  CHECK_FALSE(r.warm);
  CHECK(r.verification.state == VerifyState::kNotRequested);
  // The probes are padded so a server may answer with its whole list.
  CHECK(s.net.counters(s.client, s.net.node_of(server(0, 1))).sent == 1);
}

TEST_CASE("probes are padded to pad_to and carry children_wanted and the capacity token") {
  Scenario s;
  s.add(server(0, 1), leaf("solo", turn(1)));
  std::vector<uint8_t> seen;
  s.net.set_tap([&](const sim::TapEvent& e) {
    if (e.from_node == s.client) seen.assign(e.bytes.begin(), e.bytes.end());
    return sim::TapAction::kPass;
  });
  DiscoverOptions o = s.options({server(0, 1)});
  o.children_wanted = 5;
  o.capacity_token = "AQID";  // base64url of 01 02 03.
  REQUIRE(s.discover(o).ok());
  CHECK(seen.size() == 1200);
  auto view = proto::parse_message(seen);
  REQUIRE(view.ok());
  auto request = proto::decode_probe_request(*view);
  REQUIRE(request.ok());
  CHECK(request->children_wanted == 5);
  CHECK(std::vector<uint8_t>(request->capacity_token.begin(), request->capacity_token.end()) ==
        std::vector<uint8_t>{1, 2, 3});
}

TEST_CASE("late replies are kept as alternates: a lost level falls back to one, not re-probed") {
  Scenario s;
  s.add(server(0, 1), branch("root-a", {server(1, 1), server(1, 2)}), 10ms);
  s.add(server(0, 2), branch("root-b", {server(1, 3)}), 25ms);
  FakeServerConfig dead = leaf("dead", turn(9));
  dead.silent = true;
  s.add(server(1, 1), dead);
  s.add(server(1, 2), dead);
  s.add(server(1, 3), leaf("b-1", turn(13)), 5ms);
  s.record_sends();

  DiscoverOptions o = s.options({server(0, 1), server(0, 2)});
  o.max_attempts = 2;
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(hop_names(r) == Names{"root-b", "b-1"});
  // root-b answered at 50ms, after root-a won; its reply waited as an alternate.
  CHECK(s.servers[1].probes.size() == 1);
  // Each silent child: probed at 20ms, again one RTO later (100ms shortened by at most 10%),
  // given up one doubled RTO after that; then b-1 is probed at once.
  const auto dead1 = s.sends_to(server(1, 1));
  const auto dead2 = s.sends_to(server(1, 2));
  REQUIRE(dead1.size() == 2);
  REQUIRE(dead2.size() == 2);
  CHECK(dead1[0] == 20ms);
  CHECK(dead1[1] - dead1[0] >= 90ms);
  CHECK(dead1[1] - dead1[0] <= 100ms);
  const auto b1 = s.sends_to(server(1, 3));
  REQUIRE(b1.size() == 1);
  const Duration gave_up = b1[0];
  CHECK(gave_up - std::max(dead1[1], dead2[1]) >= 180ms);
  CHECK(gave_up - std::max(dead1[1], dead2[1]) <= 200ms);
  CHECK(r.total_time == gave_up + 10ms);
  CHECK(count_errors(r, PeerErrorKind::kTimeout) == 2);
  CHECK(r.errors[0].detail == "2 attempts, no reply");
  CHECK(r.errors[0].depth == 1);
  CHECK(r.path[0].siblings_answered == 2);
}

TEST_CASE("backtracking with no alternate yet resumes the silent candidates of the level above") {
  Scenario s;
  s.add(server(0, 1), branch("root-a", {server(1, 1)}), 10ms);
  FakeServerConfig shy = branch("root-b", {server(1, 3)});
  shy.drop_first = 1;
  s.add(server(0, 2), shy, 25ms);
  FakeServerConfig dead = leaf("dead", turn(9));
  dead.silent = true;
  s.add(server(1, 1), dead);
  s.add(server(1, 3), leaf("b-1", turn(13)), 5ms);
  s.record_sends();

  DiscoverOptions o = s.options({server(0, 1), server(0, 2)});
  o.max_attempts = 2;
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(hop_names(r) == Names{"root-b", "b-1"});
  // root-b's retransmission was due at about 100ms but root-a had won: it waited, and went
  // out the moment root-a's only child was given up.
  const auto b = s.sends_to(server(0, 2));
  const auto d = s.sends_to(server(1, 1));
  REQUIRE(b.size() == 2);
  REQUIRE(d.size() == 2);
  CHECK(b[0] == 0ms);
  CHECK(b[1] > d[1]);
  CHECK(b[1] - d[1] >= 180ms);
  CHECK(b[1] - d[1] <= 200ms);
  CHECK(r.total_time == b[1] + 50ms + 10ms);
  CHECK(r.path[0].rtt == 50ms);
}

TEST_CASE("every branch lost: the discovery fails with each peer's error") {
  Scenario s;
  s.add(server(0, 1), branch("root-a", {server(1, 1)}), 10ms);
  FakeServerConfig dead = leaf("dead", turn(9));
  dead.silent = true;
  s.add(server(1, 1), dead);
  DiscoverOptions o = s.options({server(0, 1)});
  o.max_attempts = 1;
  const DiscoveryResult r = s.discover(o);
  CHECK_FALSE(r.ok());
  CHECK(r.failure == "no leaf reached: every branch failed (2 servers probed, 1 answered)");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].address == to_address(server(1, 1)));
  CHECK(r.errors[0].kind == PeerErrorKind::kTimeout);
  CHECK(r.errors[0].detail == "1 attempt, no reply");
}

TEST_CASE("retransmission timing: exact times for a seed, RTO doubling with jitter, capped") {
  Scenario s(7);
  FakeServerConfig dead = leaf("dead", turn(9));
  dead.silent = true;
  s.add(server(0, 1), dead);
  s.record_sends();
  DiscoverOptions o = s.options({server(0, 1)});
  o.timeout = 2s;  // One round: too little time left after it to start another.
  o.max_attempts = 6;
  const DiscoveryResult r = s.discover(o);
  CHECK_FALSE(r.ok());
  CHECK(r.failure == "no server answered (1 probed)");
  const auto t = s.sends_to(server(0, 1));
  REQUIRE(t.size() == 6);
  // Nominal RTOs 100, 200, then 400 ms (the cap); each shortened by up to 10%.
  const std::vector<Duration> nominal{100ms, 200ms, 400ms, 400ms, 400ms, 400ms};
  std::vector<Duration> gaps;
  for (size_t i = 1; i < t.size(); ++i)
    gaps.push_back(t[i] - t[i - 1]);
  gaps.push_back(r.total_time - t.back());
  for (size_t i = 0; i < gaps.size(); ++i) {
    CHECK(gaps[i] <= nominal[i]);
    CHECK(gaps[i] >= nominal[i] * 9 / 10);
  }
  CHECK(t == std::vector<Duration>{0us, 97'405us, 280'102us, 641'187us, 1'015'936us, 1'414'368us});
  CHECK(r.total_time == 1'795'868us);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].detail == "6 attempts, no reply");
}

TEST_CASE("a long timeout is used: when nothing answered, the walk starts over from the roots") {
  // The root is silent for its first 5 s (restarting, or its replies lost); a 10 s timeout
  // must keep the client trying, not give up once one round of attempts is spent (1.5 s).
  Scenario s;
  FakeServer& root = s.add(server(0, 1), leaf("root", turn(9)), 10ms);
  root.config.silent = true;
  DiscoverOptions o = s.options({server(0, 1)});
  o.timeout = 10s;
  auto id = s.prober.start(s.net.now(), o);
  REQUIRE(id.ok());
  std::optional<Finished> result;
  REQUIRE(s.net.run_until(
      [&] {
        if (s.net.now() >= kStart + 5s) root.config.silent = false;
        if (!result) result = s.prober.poll_result();
        return result.has_value();
      },
      kStart + 11s));
  INFO(result->result.failure);
  CHECK(result->result.ok());
  CHECK(result->result.total_time > 5s);
  CHECK(result->result.probes_sent <= o.max_probes);
  // With the default 2 s nothing starts over: one round of 5 attempts, then the failure.
  Scenario quick;
  FakeServerConfig dead = leaf("dead", turn(9));
  dead.silent = true;
  FakeServer& silent = quick.add(server(0, 1), dead, 10ms);
  const DiscoveryResult r = quick.discover(quick.options({server(0, 1)}));
  CHECK_FALSE(r.ok());
  CHECK(silent.probes.size() == 5);
  // Found in review: an error response did not count as an answer, so one root's error
  // and another's silence started the walk over and over.
  Scenario mixed;
  FakeServerConfig erring = leaf("erring", turn(9));
  erring.error_code = 500;
  FakeServer& err = mixed.add(server(0, 1), erring, 10ms);
  mixed.add(server(0, 2), dead, 10ms);
  DiscoverOptions both = mixed.options({server(0, 1), server(0, 2)});
  both.timeout = 10s;
  const DiscoveryResult m = mixed.discover(both);
  CHECK_FALSE(m.ok());
  CHECK(err.probes.size() == 1);  // Asked once: an answer is not repeated.
  CHECK(m.total_time < 2s);
}

TEST_CASE("the first RTO comes from the server's smoothed RTT, never under 50ms") {
  Scenario s(3);
  FakeServer& root = s.add(server(0, 1), leaf("solo", turn(1)), 20ms);
  REQUIRE(s.discover(s.options({server(0, 1)})).ok());
  auto info = s.prober.peer(server(0, 1), s.net.now());
  REQUIRE(info);
  CHECK(info->srtt == 40ms);
  CHECK(info->rto == 120ms);  // SRTT + 4 * RTTVAR = 40 + 4 * 20.
  root.config.silent = true;
  s.record_sends();
  DiscoverOptions o = s.options({server(0, 1)});
  o.max_attempts = 2;
  o.timeout = 500ms;  // One round of two attempts.
  const TimePoint began = s.net.now();
  s.discover(o);
  REQUIRE(s.sends.size() == 2);
  CHECK(s.sends[0].at == began);
  CHECK(s.sends[1].at - began <= 120ms);
  CHECK(s.sends[1].at - began >= 108ms);

  // A fast server: SRTT 2ms would give an RTO of 6ms; the floor is 50ms.
  Scenario fast(3);
  FakeServer& near = fast.add(server(0, 1), leaf("near", turn(1)), 1ms);
  REQUIRE(fast.discover(fast.options({server(0, 1)})).ok());
  CHECK(fast.prober.peer(server(0, 1), fast.net.now())->rto == 50ms);
  near.config.silent = true;
  fast.record_sends();
  const TimePoint began_fast = fast.net.now();
  fast.discover(o);
  REQUIRE(fast.sends.size() == 2);
  CHECK(fast.sends[1].at - began_fast == 50ms);
}

TEST_CASE("deadline: the result comes at the deadline, naming the silent peers") {
  Scenario s;
  FakeServerConfig dead = leaf("dead", turn(9));
  dead.silent = true;
  s.add(server(0, 1), dead);
  s.add(server(0, 2), dead);
  DiscoverOptions o = s.options({server(0, 1), server(0, 2)});
  o.max_attempts = 10;
  const DiscoveryResult r = s.discover(o);
  CHECK_FALSE(r.ok());
  CHECK(r.total_time == 2s);
  CHECK(s.net.now() == kStart + 2s);
  CHECK(r.failure == "deadline of 2s passed while probing depth 0");
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].kind == PeerErrorKind::kTimeout);
  CHECK(r.errors[0].detail == "no reply before the deadline (7 attempts)");
  CHECK(s.prober.active() == 0);
  CHECK(s.prober.next_timeout() == kNever);
}

TEST_CASE("a reply with a wrong transaction id or from a wrong source is ignored") {
  Scenario s;
  FakeServerConfig root = leaf("root", turn(1));
  root.corrupt_tid_replies = 1;
  s.add(server(0, 1), root, 10ms);
  sim::EchoNode spoofer;
  const Endpoint spoofer_address = server(9, 9);
  const sim::NodeId spoofer_id = s.net.add_node(spoofer, {spoofer_address});
  s.net.set_path(s.client, spoofer_id, delay(1ms));
  std::vector<uint8_t> first_probe;
  s.net.set_tap([&](const sim::TapEvent& e) {
    if (e.from_node == s.client && first_probe.empty())
      first_probe.assign(e.bytes.begin(), e.bytes.end());
    return sim::TapAction::kPass;
  });

  auto id = s.prober.start(s.net.now(), s.options({server(0, 1)}));
  REQUIRE(id.ok());
  s.net.run_until(kStart + 2ms);
  // An off-path attacker who somehow learnt the transaction id answers from its own address.
  auto view = proto::parse_message(first_probe);
  REQUIRE(view.ok());
  proto::ProbeResponse forged;
  forged.transaction_id = view->transaction_id();
  forged.reflexive = kClientV4;
  forged.node_name = "evil";
  forged.services = {"turn:203.0.113.66:3478"};
  std::vector<uint8_t> bytes(1200);
  bytes.resize(proto::encode_probe_response(forged, bytes).value());
  spoofer.send(Datagram{spoofer_address, kClientV4, bytes});
  s.net.kick(spoofer_id);

  std::optional<DiscoveryResult> r;
  REQUIRE(s.net.run_until([&] { return (r = poll_result(s.prober)).has_value(); }, kStart + 3s));
  REQUIRE(r->ok());
  CHECK(s.prober.counters().wrong_source == 1);
  CHECK(s.prober.counters().unmatched == 1);  // The server's reply with a corrupted id.
  CHECK(hop_names(*r) == Names{"root"});
  CHECK(service_texts(r->services) == Names{turn(1)});
  // The retransmission's own id matched, so its RTT is exact.
  CHECK(r->path[0].rtt == 20ms);
  CHECK(s.servers[0].probes.size() == 2);
  CHECK(r->total_time > 100ms);
}

TEST_CASE("load-aware: an overloaded reply loses to a healthy one inside the grace window") {
  auto run = [](Duration cool_one_way, Selection selection) {
    Scenario s;
    s.add(server(0, 1), branch("root", {server(1, 1), server(1, 2)}), 10ms);
    FakeServerConfig hot = leaf("hot", turn(11));
    hot.load = {950, 900};
    s.add(server(1, 1), hot, 5ms);
    FakeServerConfig cool = leaf("cool", turn(12));
    cool.load = {200, 900};
    s.add(server(1, 2), cool, cool_one_way);
    DiscoverOptions o = s.options({server(0, 1)});
    o.selection = selection;
    return s.discover(o);
  };
  SUBCASE("the healthy reply comes 6ms after the overloaded one: it wins") {
    const DiscoveryResult r = run(8ms, Selection::kLoadAware);
    REQUIRE(r.ok());
    CHECK(hop_names(r) == Names{"root", "cool"});
    CHECK(r.total_time == 36ms);
    // The overloaded leaf had answered: it is a backup.
    CHECK(service_texts(r.backups) == Names{turn(11)});
    CHECK(r.path[1].siblings_answered == 2);
  }
  SUBCASE("the healthy reply comes after the 10ms window: the overloaded one wins") {
    const DiscoveryResult r = run(20ms, Selection::kLoadAware);
    REQUIRE(r.ok());
    CHECK(hop_names(r) == Names{"root", "hot"});
    CHECK(r.total_time == 40ms);  // 20 + 10 (its reply) + 10 (the window).
  }
  SUBCASE("selection first: the first reply wins, whatever its load") {
    const DiscoveryResult r = run(8ms, Selection::kFirst);
    REQUIRE(r.ok());
    CHECK(hop_names(r) == Names{"root", "hot"});
    CHECK(r.total_time == 30ms);
  }
}

TEST_CASE("load-aware: when every candidate has answered, an overloaded winner needs no wait") {
  Scenario s;
  s.add(server(0, 1), branch("root", {server(1, 1)}), 10ms);
  FakeServerConfig hot = leaf("hot", turn(11));
  hot.load = {1000, 900};
  s.add(server(1, 1), hot, 5ms);
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  CHECK(r.total_time == 30ms);
}

TEST_CASE("survey: each level waits for every server it probed; answers list them all") {
  auto run = [](std::chrono::milliseconds survey) {
    Scenario s;
    s.add(server(0, 1), branch("root", {server(1, 1), server(1, 2), server(1, 3), server(1, 4)}),
          10ms);
    FakeServerConfig hot = branch("hot", {server(2, 4)});
    hot.load = {950, 900};
    s.add(server(1, 1), hot, 2ms);
    s.add(server(1, 2), branch("near", {server(2, 2)}), 5ms);
    s.add(server(1, 3), branch("far", {server(2, 3)}), 40ms);
    FakeServerConfig dead = branch("dead", {});
    dead.silent = true;
    s.add(server(1, 4), dead);
    s.add(server(2, 2), leaf("near-1", turn(22)), 5ms);
    s.add(server(2, 3), leaf("far-1", turn(23)), 5ms);
    s.add(server(2, 4), leaf("hot-1", turn(24)), 5ms);
    DiscoverOptions o = s.options({server(0, 1)});
    o.survey = survey;
    return s.discover(o);
  };
  const auto names = [](const std::vector<Hop>& hops) {
    Names out;
    for (const Hop& h : hops)
      out.push_back(h.name);
    return out;
  };
  SUBCASE("off: the healthy reply inside the grace window wins, the far one is never heard") {
    const DiscoveryResult r = run(0ms);
    REQUIRE(r.ok());
    CHECK(hop_names(r) == Names{"root", "near", "near-1"});
    CHECK(names(r.answers) == Names{"root", "hot", "near", "near-1"});
    CHECK(r.total_time == 20ms + 10ms + 10ms);
  }
  SUBCASE("on: the level waits for the far server, then the window closes on the dead one") {
    const DiscoveryResult r = run(200ms);
    REQUIRE(r.ok());
    CHECK(hop_names(r) == Names{"root", "near", "near-1"});
    CHECK(names(r.answers) == Names{"root", "hot", "near", "far", "near-1"});
    REQUIRE(r.answers.size() == 5);
    CHECK(r.answers[1].rtt == 4ms);
    CHECK(r.answers[1].load_permille == 950);
    CHECK(r.answers[2].rtt == 10ms);
    CHECK(r.answers[3].rtt == 80ms);
    CHECK(r.answers[3].depth == 1);
    CHECK(r.answers[3].siblings_probed == 0);
    // Root at 20ms; hot at 24ms opens the 200ms window; the leaf's 10ms after it.
    CHECK(r.total_time == 20ms + 4ms + 200ms + 10ms);
    CHECK(r.path[1].siblings_answered == 3);
  }
  // root → near (5ms) and far (40ms), and a silent "dead" if asked; near-1 and far-1 below.
  const auto near_and_far = [](Scenario& s, FakeServerConfig near_leaf, bool with_dead) {
    std::vector<Endpoint> regions{server(1, 2), server(1, 3)};
    if (with_dead) regions.push_back(server(1, 4));
    s.add(server(0, 1), branch("root", regions), 10ms);
    s.add(server(1, 2), branch("near", {server(2, 2)}), 5ms);
    s.add(server(1, 3), branch("far", {server(2, 3)}), 40ms);
    FakeServerConfig dead = branch("dead", {});
    dead.silent = true;
    if (with_dead) s.add(server(1, 4), dead);
    s.add(server(2, 2), std::move(near_leaf), 5ms);
    s.add(server(2, 3), leaf("far-1", turn(23)), 5ms);
  };
  SUBCASE("on: back at a surveyed level after a dead end, the next best wins at once") {
    Scenario s;
    FakeServerConfig refusing = leaf("near-1", turn(22));
    refusing.error_code = 503;
    near_and_far(s, refusing, true);
    DiscoverOptions o = s.options({server(0, 1)});
    o.survey = 200ms;
    const DiscoveryResult r = s.discover(o);
    REQUIRE(r.ok());
    CHECK(hop_names(r) == Names{"root", "far", "far-1"});
    // near wins at 230ms (30 + the window), near-1 refuses at 240ms, far wins then (dead
    // is still pending, but the window has closed), far-1 answers at 250ms.
    CHECK(r.total_time == 250ms);
  }
  SUBCASE("on, with every server answering: the level ends with the last reply") {
    Scenario s;
    near_and_far(s, leaf("near-1", turn(22)), false);
    DiscoverOptions o = s.options({server(0, 1)});
    o.survey = 500ms;
    const DiscoveryResult r = s.discover(o);
    REQUIRE(r.ok());
    CHECK(hop_names(r) == Names{"root", "near", "near-1"});
    CHECK(r.total_time == 20ms + 80ms + 10ms);
  }
}

TEST_CASE("a root silent past its timeout is reported, even though another root answered") {
  const auto run = [](Duration region_one_way) {
    Scenario s;
    s.add(server(0, 1), branch("root-a", {server(1, 1)}), 10ms);
    FakeServerConfig dead = branch("root-b", {});
    dead.silent = true;
    s.add(server(0, 2), dead);
    s.add(server(1, 1), branch("region", {server(2, 1)}), region_one_way);
    s.add(server(2, 1), leaf("leaf", turn(21)), 5ms);
    return s.discover(s.options({server(0, 1), server(0, 2)}));
  };
  SUBCASE("the walk outlasts root-b's first timeout (100ms): it is listed") {
    const DiscoveryResult r = run(60ms);
    REQUIRE(r.ok());
    CHECK(r.total_time == 20ms + 120ms + 10ms);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].address == to_address(server(0, 2)));
    CHECK(r.errors[0].depth == 0);
    CHECK(r.errors[0].kind == PeerErrorKind::kTimeout);
    CHECK(r.errors[0].detail ==
          "no reply within its timeout (150ms since the last of 1 attempt); another root had "
          "answered");
  }
  SUBCASE("the walk ends first: root-b may only be slower, and is not listed") {
    const DiscoveryResult r = run(10ms);
    REQUIRE(r.ok());
    CHECK(r.total_time == 50ms);
    CHECK(r.errors.empty());
  }
}

TEST_CASE("an error response or a malformed reply fails that peer at once; another wins") {
  Scenario s;
  FakeServerConfig refusing = leaf("refusing", turn(1));
  refusing.error_code = proto::error_code::kForbidden;
  s.add(server(0, 1), refusing, 5ms);
  FakeServerConfig broken = leaf("broken", turn(2));
  broken.malformed = true;
  s.add(server(0, 2), broken, 5ms);
  s.add(server(0, 3), leaf("good", turn(3)), 30ms);
  const DiscoveryResult r = s.discover(s.options({server(0, 1), server(0, 2), server(0, 3)}));
  REQUIRE(r.ok());
  CHECK(hop_names(r) == Names{"good"});
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].kind == PeerErrorKind::kErrorResponse);
  CHECK(r.errors[0].error_code == 403);
  CHECK(r.errors[0].detail == "error 403 \"no\"");
  CHECK(r.errors[1].kind == PeerErrorKind::kMalformed);
  CHECK(r.errors[1].address == to_address(server(0, 2)));
  CHECK(s.servers[0].probes.size() == 1);
  CHECK(s.servers[1].probes.size() == 1);
}

TEST_CASE("a reply with neither children nor services is an error, not a winner") {
  Scenario s;
  s.add(server(0, 1), branch("empty", {}), 5ms);
  s.add(server(0, 2), leaf("good", turn(3)), 30ms);
  const DiscoveryResult r = s.discover(s.options({server(0, 1), server(0, 2)}));
  REQUIRE(r.ok());
  CHECK(hop_names(r) == Names{"good"});
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].kind == PeerErrorKind::kEmpty);
  CHECK(r.errors[0].detail == "neither children nor services");
}

TEST_CASE("when every server lists nothing, the failure says so instead of 'no answer'") {
  Scenario s;
  s.add(server(0, 1), branch("root", {}), 5ms);
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  CHECK_FALSE(r.ok());
  CHECK(r.failure ==
        "no live child listed: 1 of 1 servers answered with no child and no service "
        "(everything below them is overloaded, draining or down)");
}

TEST_CASE("the driver reports a destination unreachable: that peer fails at once") {
  Scenario s;
  FakeServerConfig dead = leaf("dead", turn(9));
  dead.silent = true;
  s.add(server(0, 1), dead);
  auto id = s.prober.start(s.net.now(), s.options({server(0, 1)}));
  REQUIRE(id.ok());
  s.net.run_until(kStart + 5ms);
  s.prober.on_unreachable(s.net.now(), server(0, 1));
  auto r = poll_result(s.prober);
  REQUIRE(r);
  CHECK_FALSE(r->ok());
  REQUIRE(r->errors.size() == 1);
  CHECK(r->errors[0].kind == PeerErrorKind::kUnreachable);
  CHECK(r->total_time == 5ms);
}

TEST_CASE("a loop in the tree is skipped, and a leaf may be a root") {
  Scenario s;
  s.add(server(0, 1), branch("root", {server(1, 1)}), 5ms);
  s.add(server(1, 1), branch("region", {server(0, 1), server(1, 2)}), 5ms);
  s.add(server(1, 2), leaf("leaf", turn(12)), 5ms);
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  REQUIRE(r.ok());
  CHECK(hop_names(r) == Names{"root", "region", "leaf"});
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].kind == PeerErrorKind::kSkipped);
  CHECK(r.errors[0].detail == "already on the path: the tree has a loop");

  Scenario direct;
  direct.add(server(0, 1), leaf("solo", turn(1)), 5ms);
  const DiscoveryResult d = direct.discover(direct.options({server(0, 1)}));
  REQUIRE(d.ok());
  CHECK(hop_names(d) == Names{"solo"});
  CHECK(d.total_time == 10ms);
}

TEST_CASE("max_depth bounds the walk") {
  Scenario s;
  s.add(server(0, 1), branch("a", {server(0, 2)}), 1ms);
  s.add(server(0, 2), branch("b", {server(0, 3)}), 1ms);
  s.add(server(0, 3), leaf("c", turn(3)), 1ms);
  DiscoverOptions o = s.options({server(0, 1)});
  o.max_depth = 2;
  const DiscoveryResult r = s.discover(o);
  CHECK_FALSE(r.ok());
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].detail == "its children are deeper than max_depth 2");
  CHECK(s.servers[2].probes.empty());
}

TEST_CASE("IPv6 roots and children work like IPv4 ones") {
  Scenario s;
  s.add(v6(1), branch("root6", {v6(2)}), 5ms);
  s.add(v6(2), leaf("leaf6", "turn:[2001:db8::10]:3478?transport=udp"), 5ms);
  const DiscoveryResult r = s.discover(s.options({v6(1)}));
  REQUIRE(r.ok());
  CHECK(hop_names(r) == Names{"root6", "leaf6"});
  CHECK(r.reflexive == to_address(client_v6()));
  CHECK(r.services[0].host == "2001:db8::10");
  CHECK(r.services[0].host.find(':') != std::string::npos);
}

}  // namespace turnscout::client::testing

namespace turnscout::client::testing {

TEST_CASE("report_hops: each hop as its level is won, then stop() keeps what was found") {
  Scenario s;
  s.add(server(0, 1), branch("root", {server(1, 1)}), 10ms);
  s.add(server(1, 1), branch("region", {server(2, 1)}), 15ms);
  FakeServerConfig silent = leaf("leaf", turn(10));
  silent.silent = true;
  s.add(server(2, 1), silent, 10ms);
  DiscoverOptions o = s.options({server(0, 1)});
  o.report_hops = true;
  auto id = s.prober.start(s.net.now(), o);
  REQUIRE(id.ok());
  std::vector<HopEvent> hops;
  std::vector<TimePoint> at;
  REQUIRE(s.net.run_until(
      [&] {
        while (auto h = s.prober.poll_hop()) {
          hops.push_back(std::move(*h));
          at.push_back(s.net.now());
        }
        return hops.size() == 2;
      },
      kStart + 1s));
  CHECK(hops[0].id == *id);
  CHECK(hops[0].hop.name == "root");
  CHECK(hops[0].hop.depth == 0);
  CHECK(hops[1].hop.name == "region");
  CHECK(hops[1].hop.rtt == 30ms);
  CHECK(at[0] - kStart == 20ms);  // As each level is won, not at the end.
  CHECK(at[1] - kStart == 50ms);
  CHECK_FALSE(s.prober.poll_result().has_value());  // Still waiting for the leaf.

  CHECK(s.prober.stop(s.net.now(), *id));
  CHECK_FALSE(s.prober.stop(s.net.now(), *id));  // Its result is already out.
  auto r = s.prober.poll_result();
  REQUIRE(r.has_value());
  CHECK(r->result.status == Status::kCancelled);
  CHECK(r->result.failure == "stopped by the caller");
  CHECK(hop_names(r->result) == Names{"root", "region"});
  CHECK(s.prober.active() == 0);
  CHECK_FALSE(s.prober.poll_hop().has_value());
}

TEST_CASE("report_hops off: no hop is queued") {
  Scenario s;
  s.add(server(0, 1), leaf("leaf", turn(10)), 10ms);
  REQUIRE(s.discover(s.options({server(0, 1)})).ok());
  CHECK_FALSE(s.prober.poll_hop().has_value());
}

}  // namespace turnscout::client::testing
