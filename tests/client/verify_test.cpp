// Verification: a STUN Binding to the chosen TURN server, falling to the next candidate
// when one stays silent, and the host-name hook.
#include <doctest/doctest.h>

#include "client/core/prober.hpp"
#include "tests/client/fake_server.hpp"
#include "tests/client/scenario.hpp"

namespace turnscout::client::testing {
namespace {

const Endpoint kTurn10 = Endpoint::v4(192, 0, 2, 10, 3478);
const Endpoint kTurn99 = Endpoint::v4(192, 0, 2, 99, 3478);

FakeServerConfig turn_server() {
  FakeServerConfig c;
  c.name = "turn";
  return c;
}

}  // namespace

TEST_CASE("verify: a Binding to the chosen TURN server confirms it and measures its RTT") {
  Scenario s;
  s.add(server(0, 1), branch("root", {server(1, 1)}), 10ms);
  s.add(server(1, 1), leaf("leaf", turn(10)), 10ms);
  FakeServer& turn10 = s.add(kTurn10, turn_server(), 7ms);
  DiscoverOptions o = s.options({server(0, 1)});
  o.verify = true;
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(r.verification.state == VerifyState::kVerified);
  CHECK(r.verification.service == turn(10));
  CHECK(r.verification.address == to_address(kTurn10));
  CHECK(r.verification.rtt == 14ms);
  CHECK(r.verification.mapped == to_address(kClientV4));
  CHECK(r.total_time == 20ms + 20ms + 14ms);
  CHECK(turn10.bindings.size() == 1);
  REQUIRE(r.verification.tried.size() == 1);
  CHECK(r.verification.tried[0].outcome == "answered");
}

TEST_CASE("verify: on by default, as in the CLI") {
  Scenario s;
  s.add(server(0, 1), leaf("leaf", turn(10)), 10ms);
  FakeServer& turn10 = s.add(kTurn10, turn_server(), 5ms);
  DiscoverOptions o;  // The SDK's defaults, not the scenario's.
  o.roots = {to_string(server(0, 1))};
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(r.verification.state == VerifyState::kVerified);
  CHECK(turn10.bindings.size() == 1);
}

TEST_CASE("verify: a silent TURN server gives way to the next candidate, which is promoted") {
  Scenario s;
  FakeServerConfig root = branch("root", {server(1, 1)});
  root.services = {turn(99)};  // A branch with services of its own: the last backup.
  s.add(server(0, 1), root, 10ms);
  FakeServerConfig l = leaf("leaf", turn(10));
  l.services.push_back("turns:192.0.2.11:5349?transport=udp");
  s.add(server(1, 1), l, 10ms);
  FakeServerConfig dead = turn_server();
  dead.silent = true;
  FakeServer& turn10 = s.add(kTurn10, dead, 5ms);
  FakeServer& turn99 = s.add(kTurn99, turn_server(), 5ms);
  s.record_sends();
  DiscoverOptions o = s.options({server(0, 1)});
  o.verify = true;
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(r.verification.state == VerifyState::kVerified);
  CHECK(service_texts(r.services) ==
        Names{turn(99), turn(10), "turns:192.0.2.11:5349?transport=udp"});
  CHECK(r.backups.empty());
  REQUIRE(r.verification.tried.size() == 3);
  CHECK(r.verification.tried[0].service == turn(10));
  CHECK(r.verification.tried[0].outcome == "3 attempts, no reply");
  CHECK(r.verification.tried[1].outcome ==
        "not checked: needs DTLS, the check is a STUN Binding over UDP, TCP or TLS");
  CHECK(r.verification.tried[1].address.empty());
  CHECK(r.verification.tried[2].outcome == "answered");
  CHECK(turn10.bindings.size() == 3);
  CHECK(turn99.bindings.size() == 1);
  // The Bindings follow their own RTO schedule: 100, 200 (less up to 10%), then 400 ms.
  const auto t = s.sends_to(kTurn10);
  REQUIRE(t.size() == 3);
  CHECK(t[0] == 40ms);
  CHECK(s.sends_to(kTurn99).size() == 1);
  CHECK(s.sends_to(kTurn99)[0] - t[2] <= 400ms);
  CHECK(s.sends_to(kTurn99)[0] - t[2] >= 360ms);
  CHECK(s.prober.peer(kTurn10, s.net.now())->health == HealthState::kSuspect);
}

TEST_CASE("verify: a sibling leaf that answers after the winner is a backup to check") {
  // leaf-a wins at 40 ms; leaf-b's reply comes 30 ms later, while leaf-a's dead TURN server
  // is being checked. Its service becomes a backup, checked once leaf-a's is given up.
  const Endpoint kTurn11 = Endpoint::v4(192, 0, 2, 11, 3478);
  Scenario s;
  s.add(server(0, 1), branch("root", {server(1, 1), server(1, 2)}), 10ms);
  s.add(server(1, 1), leaf("leaf-a", turn(10)), 10ms);
  s.add(server(1, 2), leaf("leaf-b", turn(11)), 25ms);
  FakeServerConfig dead = turn_server();
  dead.silent = true;
  FakeServer& turn10 = s.add(kTurn10, dead, 5ms);
  FakeServer& turn11 = s.add(kTurn11, turn_server(), 5ms);
  DiscoverOptions o = s.options({server(0, 1)});
  o.verify = true;
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(hop_names(r) == Names{"root", "leaf-a"});
  CHECK(r.verification.state == VerifyState::kVerified);
  CHECK(r.verification.service == turn(11));
  CHECK(service_texts(r.services) == Names{turn(11), turn(10)});
  CHECK(r.backups.empty());
  REQUIRE(r.verification.tried.size() == 2);
  CHECK(r.verification.tried[0].outcome == "3 attempts, no reply");
  CHECK(r.verification.tried[1].service == turn(11));
  CHECK(r.verification.tried[1].outcome == "answered");
  CHECK(turn10.bindings.size() == 3);
  CHECK(turn11.bindings.size() == 1);
}

TEST_CASE("verify: a sibling leaf that answers after the verification ended is not waited for") {
  Scenario s;
  s.add(server(0, 1), branch("root", {server(1, 1), server(1, 2)}), 10ms);
  s.add(server(1, 1), leaf("leaf-a", turn(10)), 10ms);
  s.add(server(1, 2), leaf("leaf-b", turn(99)), 200ms);
  s.add(kTurn10, turn_server(), 5ms);
  s.add(kTurn99, turn_server(), 5ms);
  DiscoverOptions o = s.options({server(0, 1)});
  o.verify = true;
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(r.verification.service == turn(10));
  CHECK(r.backups.empty());
  CHECK(r.total_time == 20ms + 20ms + 10ms);
}

// A root that is a leaf naming one silent TURN server, verified with `attempts` Bindings.
static DiscoveryResult discover_with_dead_turn(uint32_t attempts) {
  Scenario s;
  s.add(server(0, 1), leaf("leaf", turn(10)), 10ms);
  FakeServerConfig dead = turn_server();
  dead.silent = true;
  s.add(kTurn10, dead, 5ms);
  DiscoverOptions o = s.options({server(0, 1)});
  o.verify = true;
  o.verify_attempts = attempts;
  return s.discover(o);
}

TEST_CASE("verify: one attempt is \"1 attempt\"") {
  const DiscoveryResult r = discover_with_dead_turn(1);
  REQUIRE(r.verification.tried.size() == 1);
  CHECK(r.verification.tried[0].outcome == "1 attempt, no reply");
}

namespace {

// kTurn10 silent, a verifying discovery from server(0, 1) with a budget of 3 Bindings: all
// three go to kTurn10, two services are tried, and the failure names the budget.
DiscoveryResult discover_over_budget(Scenario& s) {
  FakeServerConfig dead = turn_server();
  dead.silent = true;
  s.add(kTurn10, dead, 5ms);
  DiscoverOptions o = s.options({server(0, 1)});
  o.verify = true;
  o.max_bindings = 3;
  DiscoveryResult r = s.discover(o);
  CHECK_FALSE(r.ok());
  CHECK(r.failure ==
        "no TURN server answered a STUN Binding within the discovery's budget of 3 Bindings "
        "(2 tried)");
  CHECK(r.bindings_sent == 3);
  REQUIRE(r.verification.tried.size() == 2);
  CHECK(r.verification.tried[0].outcome == "3 attempts, no reply");
  return r;
}

}  // namespace

TEST_CASE("verify: the Binding budget ends the checks, and the discovery, when it runs out") {
  Scenario s;
  FakeServerConfig c = leaf("leaf", turn(10));
  c.services.push_back(turn(11));
  s.add(server(0, 1), c, 10ms);
  s.add(Endpoint::v4(192, 0, 2, 11, 3478), turn_server(), 5ms);  // Never asked.
  const DiscoveryResult r = discover_over_budget(s);
  CHECK(r.verification.tried[1].outcome ==
        "not checked: over the discovery's budget (3 Bindings sent)");
  CHECK(r.verification.tried[1].address.empty());
  CHECK(hop_names(r) == Names{"leaf"});
}

TEST_CASE("verify: a budget spent to the last Binding by a normal give-up still ends the walk") {
  // leaf-a's one TURN server is silent: its 3 attempts spend the whole budget of 3. The walk
  // must not go on to leaf-b, whose DTLS-only service could not be checked anyway: that
  // would report an unchecked success after the budget said no.
  Scenario s;
  s.add(server(0, 1), branch("root", {server(1, 1), server(1, 2)}), 10ms);
  s.add(server(1, 1), leaf("leaf-a", turn(10)), 5ms);
  s.add(server(1, 2), leaf("leaf-b", "turns:192.0.2.12:5349?transport=udp"), 8ms);
  const DiscoveryResult r = discover_over_budget(s);
  // leaf-b's service came along as a backup.
  CHECK(r.verification.tried[1].outcome ==
        "not checked: needs DTLS, the check is a STUN Binding over UDP, TCP or TLS");
  CHECK(hop_names(r) == Names{"root", "leaf-a"});
}

TEST_CASE("verify: nothing answers, so the discovery fails but keeps what it found") {
  const DiscoveryResult r = discover_with_dead_turn(2);
  CHECK_FALSE(r.ok());
  CHECK(r.failure == "no TURN server answered a STUN Binding (1 tried)");
  CHECK(r.verification.state == VerifyState::kFailed);
  CHECK(service_texts(r.services) == Names{turn(10)});
  CHECK(hop_names(r) == Names{"leaf"});
}

TEST_CASE("verify: a leaf whose TURN servers are all dead sends the walk to another region") {
  // root lists region-a (near) and region-b (far). region-a's only leaf names a dead TURN
  // server, region-b's leaf a live one: the walk goes back up and down region-b, whose
  // reply it already has, instead of failing the discovery.
  const Endpoint kTurn11 = Endpoint::v4(192, 0, 2, 11, 3478);
  auto discover = [&](bool b_alive, std::chrono::milliseconds timeout) {
    Scenario s;
    s.add(server(0, 1), branch("root", {server(1, 1), server(1, 2)}), 10ms);
    s.add(server(1, 1), branch("region-a", {server(2, 1)}), 10ms);
    s.add(server(1, 2), branch("region-b", {server(2, 2)}), 30ms);
    s.add(server(2, 1), leaf("leaf-a", turn(10)), 10ms);
    s.add(server(2, 2), leaf("leaf-b", turn(11)), 10ms);
    FakeServerConfig dead = turn_server();
    dead.silent = true;
    s.add(kTurn10, dead, 5ms);
    s.add(kTurn11, b_alive ? turn_server() : dead, 5ms);
    DiscoverOptions o = s.options({server(0, 1)});
    o.verify = true;
    o.timeout = timeout;
    return s.discover(o);
  };
  SUBCASE("the other region's TURN server answers") {
    const DiscoveryResult r = discover(true, 2s);
    REQUIRE(r.ok());
    CHECK(hop_names(r) == Names{"root", "region-b", "leaf-b"});
    CHECK(r.verification.state == VerifyState::kVerified);
    CHECK(r.verification.service == turn(11));
    CHECK(service_texts(r.services) == Names{turn(11)});
    REQUIRE(r.verification.tried.size() == 2);
    CHECK(r.verification.tried[0].service == turn(10));
    CHECK(r.verification.tried[0].outcome == "3 attempts, no reply");
    CHECK(r.verification.tried[1].outcome == "answered");
    REQUIRE(count_errors(r, PeerErrorKind::kNotVerified) == 1);
    CHECK(r.errors[0].name == "leaf-a");
    CHECK(r.errors[0].detail == "none of its TURN servers answered a STUN Binding");
  }
  SUBCASE("no region's TURN server answers: the first path found is reported") {
    const DiscoveryResult r = discover(false, 2s);
    CHECK_FALSE(r.ok());
    CHECK(r.failure == "no TURN server answered a STUN Binding (2 tried)");
    CHECK(hop_names(r) == Names{"root", "region-a", "leaf-a"});
    CHECK(r.verification.state == VerifyState::kFailed);
    REQUIRE(r.verification.tried.size() == 2);
    CHECK(r.verification.tried[1].service == turn(11));
    CHECK(count_errors(r, PeerErrorKind::kNotVerified) == 2);
  }
  SUBCASE("the deadline comes while verifying, and is reported as a deadline") {
    const DiscoveryResult r = discover(true, 300ms);
    CHECK_FALSE(r.ok());
    CHECK(r.failure == "deadline of 300ms passed while verifying TURN servers (1 tried)");
    CHECK(r.verification.tried[0].outcome == "no reply before the deadline");
  }
}

TEST_CASE("verify: when the cached leaf's TURN server dies, a warm discovery walks elsewhere") {
  const Endpoint kTurn11 = Endpoint::v4(192, 0, 2, 11, 3478);
  Scenario s;
  s.add(server(0, 1), branch("root", {server(1, 1), server(1, 2)}), 10ms);
  s.add(server(1, 1), branch("eu", {server(2, 1)}), 10ms);
  s.add(server(1, 2), branch("us", {server(2, 2)}), 30ms);
  s.add(server(2, 1), leaf("eu-1", turn(10)), 10ms);
  s.add(server(2, 2), leaf("us-1", turn(11)), 10ms);
  FakeServer& turn10 = s.add(kTurn10, turn_server(), 5ms);
  s.add(kTurn11, turn_server(), 5ms);
  DiscoverOptions o = s.options({server(0, 1)});
  o.verify = true;
  const DiscoveryResult first = s.discover(o);
  REQUIRE(first.ok());
  CHECK(first.verification.service == turn(10));
  s.settle();
  REQUIRE(s.prober.last_path());
  CHECK(s.prober.last_path()->leaf().name == "eu-1");

  turn10.config.silent = true;
  s.net.run_for(1s);
  const DiscoveryResult warm = s.discover(o);
  REQUIRE(warm.ok());
  CHECK(hop_names(warm) == Names{"root", "us", "us-1"});
  CHECK(warm.verification.service == turn(11));
  REQUIRE(warm.verification.tried.size() == 2);
  CHECK(warm.verification.tried[0].service == turn(10));  // Once, not again for the walk.
  s.settle();
  REQUIRE(s.prober.last_path());
  CHECK(s.prober.last_path()->leaf().name == "us-1");
}

// Found in review: finding a leaf paused the cached leaf's probe, and a rejected leaf did
// not resume it, so a walk with nothing else left waited for the deadline.
TEST_CASE("verify: after a rejected leaf, a silent cached leaf is still given up in time") {
  const Endpoint kTurn11 = Endpoint::v4(192, 0, 2, 11, 3478);
  Scenario s;
  FakeServer& root = s.add(server(0, 1), branch("root", {server(1, 1), server(1, 2)}), 10ms);
  s.add(server(1, 1), branch("eu", {server(2, 1)}), 10ms);
  s.add(server(1, 2), branch("us", {server(2, 2)}), 30ms);
  FakeServer& eu1 = s.add(server(2, 1), leaf("eu-1", turn(10)), 10ms);
  s.add(server(2, 2), leaf("us-1", turn(11)), 10ms);
  s.add(kTurn10, turn_server(), 5ms);
  FakeServerConfig dead = turn_server();
  dead.silent = true;
  s.add(kTurn11, dead, 5ms);
  DiscoverOptions o = s.options({server(0, 1)});
  o.verify = true;
  o.timeout = 5s;
  REQUIRE(s.discover(o).ok());  // Remembers root → eu → eu-1.
  s.settle();
  // eu-1 goes silent and the root lists us alone: the walk finds us-1, whose TURN server
  // is dead, while the cached leaf's probe is still out.
  eu1.config.silent = true;
  root.config.children = {server(1, 2)};
  s.net.run_for(1s);
  const DiscoveryResult r = s.discover(o);
  CHECK_FALSE(r.ok());
  CHECK(r.failure == "no TURN server answered a STUN Binding (1 tried)");
  CHECK(r.total_time < 3s);
}

TEST_CASE("verify: a TCP service is checked by a Binding over TCP") {
  Scenario s;
  s.add(server(0, 1), leaf("leaf", "turn:192.0.2.10:3478?transport=tcp"), 10ms);
  FakeServer& turn10 = s.add(kTurn10, turn_server(), 5ms);
  DiscoverOptions o = s.options({server(0, 1)});
  o.verify = true;
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(r.verification.state == VerifyState::kVerified);
  CHECK(r.verification.rtt == 20ms);  // Its handshake and the Binding: two round trips.
  REQUIRE(r.verification.tried.size() == 1);
  CHECK(r.verification.tried[0].outcome == "answered over TCP (connection included)");
  CHECK(turn10.stream_requests == 1);
  CHECK(r.total_time == 20ms + 20ms);
}

TEST_CASE("verify: turns: is checked by a Binding over TLS, the certificate by its address") {
  Scenario s;
  s.add(server(0, 1), leaf("leaf", "turns:192.0.2.10:3478?transport=tcp"), 10ms);
  FakeServer& turn10 = s.add(kTurn10, turn_server(), 5ms);
  std::vector<std::pair<Transport, std::string>> bindings;
  s.net.set_tap([&](const sim::TapEvent& e) {
    if (e.from_node == s.client && e.to == kTurn10) {
      bindings.emplace_back(e.transport, e.datagram->tls_ca_file);
      CHECK(e.datagram->tls_name.empty());  // An address: checked as one.
    }
    return sim::TapAction::kPass;
  });
  DiscoverOptions o = s.options({server(0, 1)});
  o.verify = true;
  o.tls_ca_file = "ca.pem";
  const DiscoveryResult r = s.discover(o);
  REQUIRE_MESSAGE(r.ok(), (r.errors.empty() ? r.failure : r.errors[0].detail));
  CHECK(r.verification.state == VerifyState::kVerified);
  REQUIRE(r.verification.tried.size() == 1);
  CHECK(r.verification.tried[0].outcome == "answered over TLS (connection included)");
  REQUIRE(bindings.size() == 1);
  CHECK(bindings[0] == std::pair{Transport::kTls, std::string("ca.pem")});
  CHECK(turn10.stream_requests == 1);
  // TCP's handshake, TLS's and the Binding: three round trips of 10 ms after the leaf's 20.
  CHECK(r.total_time == 20ms + 30ms);
}

TEST_CASE("verify: a leaf with DTLS services only is answered, unchecked") {
  Scenario s;
  FakeServerConfig l = leaf("leaf", "turns:192.0.2.11:5349?transport=udp");
  l.services.push_back("turns:192.0.2.12:5349?transport=udp");
  s.add(server(0, 1), l, 10ms);
  DiscoverOptions o = s.options({server(0, 1)});
  o.verify = true;
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(r.verification.state == VerifyState::kUnchecked);
  CHECK_MESSAGE(r.errors.empty(), (r.errors.empty() ? "" : r.errors[0].detail));
  CHECK(r.verification.tried.size() == 2);
}

TEST_CASE("verify: host names are skipped unless the driver resolves them") {
  auto setup = [](Scenario& s) {
    s.add(server(0, 1), leaf("leaf", "turn:turn.example.com:3478?transport=udp"), 10ms);
    s.add(kTurn10, turn_server(), 5ms);
  };
  SUBCASE("without the hook: not checked") {
    Scenario s;
    setup(s);
    DiscoverOptions o = s.options({server(0, 1)});
    o.verify = true;
    const DiscoveryResult r = s.discover(o);
    // Nothing can be checked, which says nothing against the leaf: its word stands, marked
    // unchecked (verification is on by default, so a TLS-only tree must still work).
    CHECK(r.ok());
    CHECK(r.verification.state == VerifyState::kUnchecked);
    REQUIRE(r.verification.tried.size() == 1);
    CHECK(r.verification.tried[0].outcome ==
          "not checked: a host name, and the core resolves none");
    CHECK(s.prober.poll_resolve() == std::nullopt);
  }
  SUBCASE("with the hook: the driver resolves, the core checks") {
    Scenario s;
    setup(s);
    DiscoverOptions o = s.options({server(0, 1)});
    o.verify = true;
    o.resolve_host_names = true;
    auto id = s.prober.start(s.net.now(), o);
    REQUIRE(id.ok());
    std::optional<ResolveRequest> request;
    REQUIRE(s.net.run_until([&] { return (request = s.prober.poll_resolve()).has_value(); },
                            kStart + 1s));
    CHECK(request->id == *id);
    CHECK(request->host == "turn.example.com");
    CHECK(s.prober.poll_resolve() == std::nullopt);            // Handed out once.
    s.net.run_for(30ms);                                       // A resolver takes its time.
    const Endpoint resolved = Endpoint::v4(192, 0, 2, 10, 0);  // The URI's port applies.
    s.prober.on_resolved(s.net.now(), *id, "turn.example.com", std::span(&resolved, 1));
    std::optional<DiscoveryResult> r;
    REQUIRE(s.net.run_until([&] { return (r = poll_result(s.prober)).has_value(); }, kStart + 2s));
    REQUIRE(r->ok());
    CHECK(r->verification.address == to_address(kTurn10));
    CHECK(r->total_time == 20ms + 30ms + 10ms);
  }
  SUBCASE("with the hook, a name that does not resolve") {
    Scenario s;
    setup(s);
    DiscoverOptions o = s.options({server(0, 1)});
    o.verify = true;
    o.resolve_host_names = true;
    auto id = s.prober.start(s.net.now(), o);
    REQUIRE(id.ok());
    REQUIRE(s.net.run_until([&] { return s.prober.poll_resolve().has_value(); }, kStart + 1s));
    s.prober.on_resolved(s.net.now(), *id, "turn.example.com", {});
    auto r = poll_result(s.prober);
    REQUIRE(r);
    CHECK_FALSE(r->ok());
    CHECK(r->verification.tried[0].outcome == "not checked: the host name did not resolve");
  }
}

}  // namespace turnscout::client::testing
