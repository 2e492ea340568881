// Roots as the caller writes them: host names asked of the driver through poll_resolve(),
// the deadline counted from start() across the look-ups, `index:N` by written position, and
// the bound on discoveries that are still resolving. All on simulated time.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "client/core/prober.hpp"
#include "client/core/roots.hpp"
#include "tests/client/fake_server.hpp"
#include "tests/client/scenario.hpp"

namespace turnscout::client::testing {
namespace {

std::vector<std::string> take_requests(Prober& prober, DiscoveryId id) {
  std::vector<std::string> hosts;
  while (auto request = prober.poll_resolve()) {
    CHECK(request->id == id);
    hosts.push_back(request->host);
  }
  return hosts;
}

std::optional<DiscoveryResult> run_to_result(Scenario& s, Duration limit) {
  std::optional<DiscoveryResult> r;
  s.net.run_until([&] { return (r = poll_result(s.prober)).has_value(); }, s.net.now() + limit);
  return r;
}

}  // namespace

TEST_CASE("roots: numeric roots, with or without a port, need no look-up") {
  auto parsed = RootResolution::parse({"10.0.0.1:5000", "10.0.0.2", "[2001:db8::101]"}, 3478);
  REQUIRE(parsed.ok());
  CHECK(parsed->done());
  CHECK_FALSE(parsed->has_names());
  CHECK(parsed->take_request() == std::nullopt);
  const std::vector<Root> roots = parsed->roots();
  REQUIRE(roots.size() == 3);
  CHECK(roots[0].address == server(0, 1, 5000));
  CHECK(roots[1].address == server(0, 2, 3478));
  CHECK(roots[2].address == v6(1, 3478));
  CHECK(roots[2].position == 2);
}

TEST_CASE("roots: each host name is asked for once and probing waits for every answer") {
  Scenario s;
  s.add(server(0, 1), leaf("eu", turn(1)), 10ms);
  s.add(server(0, 2), leaf("us", turn(2)), 40ms);
  s.record_sends();
  DiscoverOptions o;
  o.verify = false;  // No TURN server here to answer.
  o.roots = {"scout.example.org", "10.0.0.2:3478", "SCOUT.example.org:3478", "scout.example.org"};
  auto id = s.prober.start(s.net.now(), o);
  REQUIRE(id.ok());
  // "SCOUT.example.org" is another text: look-ups are by the name as written.
  CHECK(take_requests(s.prober, *id) ==
        std::vector<std::string>{"scout.example.org", "SCOUT.example.org"});
  s.net.run_for(25ms);  // The resolver takes its time; nothing is probed meanwhile.
  CHECK(s.sends.empty());
  const Endpoint resolved = server(0, 1, 0);  // The root's port applies.
  s.prober.on_resolved(s.net.now(), *id, "scout.example.org", std::span(&resolved, 1));
  CHECK(s.prober.poll_result() == std::nullopt);
  s.net.kick(s.client);
  CHECK(s.sends.empty());
  s.prober.on_resolved(s.net.now(), *id, "SCOUT.example.org", std::span(&resolved, 1));
  s.net.kick(s.client);
  auto r = run_to_result(s, 1s);
  REQUIRE(r);
  REQUIRE(r->ok());
  CHECK(hop_names(*r) == Names{"eu"});
  CHECK(r->path[0].address == to_address(server(0, 1)));
  CHECK(r->total_time == 25ms + 20ms);  // Look-up time plus the round trip.
  // Every root got its probe at the same instant, after the last answer.
  CHECK(s.sends_to(server(0, 1)).size() >= 1);
  CHECK(s.sends_to(server(0, 1)).front() == 25ms);
  CHECK(s.sends_to(server(0, 2)).front() == 25ms);
}

TEST_CASE("roots: a name with A and AAAA records is probed on both, families taking turns") {
  // The resolver's order, families interleaved from the first one's (RFC 8305 section 4).
  CHECK(interleave_families({v6(1), v6(2), v6(3), server(0, 1), server(0, 2)}) ==
        std::vector<Endpoint>{v6(1), server(0, 1), v6(2), server(0, 2), v6(3)});
  CHECK(interleave_families({server(0, 1), server(0, 2), v6(1)}) ==
        std::vector<Endpoint>{server(0, 1), v6(1), server(0, 2)});
  CHECK(interleave_families({}).empty());

  // The same server on both families; IPv6 is the nearer path here, then IPv4.
  for (const bool v6_nearer : {true, false}) {
    INFO("IPv6 nearer: " << v6_nearer);
    Scenario s;
    s.add(v6(1), leaf("leaf", turn(1)), v6_nearer ? 5ms : 20ms);
    s.add(server(0, 1), leaf("leaf", turn(1)), v6_nearer ? 20ms : 5ms);
    s.record_sends();
    DiscoverOptions o;
    o.verify = false;
    o.roots = {"scout.example.org:3478"};
    auto id = s.prober.start(s.net.now(), o);
    REQUIRE(id.ok());
    CHECK(take_requests(s.prober, *id) == std::vector<std::string>{"scout.example.org"});
    // Duplicates from the resolver are probed once.
    const std::vector<Endpoint> answer{v6(1, 0), v6(1, 0), server(0, 1, 0)};
    s.prober.on_resolved(s.net.now(), *id, "scout.example.org", answer);
    s.net.kick(s.client);
    auto r = run_to_result(s, 1s);
    REQUIRE(r);
    REQUIRE(r->ok());
    CHECK(s.sends_to(v6(1)).size() == 1);
    CHECK(s.sends_to(server(0, 1)).size() == 1);
    CHECK(r->family == (v6_nearer ? "ipv6" : "ipv4"));
    CHECK(r->path[0].address == to_address(v6_nearer ? v6(1) : server(0, 1)));
    CHECK(r->total_time == 10ms);
  }
}

TEST_CASE("roots: a name that does not resolve is a root error; the others still run") {
  Scenario s;
  s.add(server(0, 1), leaf("eu", turn(1)), 10ms);
  s.names["good.example.org"] = {server(0, 1)};
  DiscoverOptions o;
  o.verify = false;  // No TURN server here to answer.
  o.roots = {"bad.example.org", "good.example.org"};
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].name == "bad.example.org");
  CHECK(r.errors[0].kind == PeerErrorKind::kUnreachable);
  CHECK(r.errors[0].address.empty());
  CHECK(r.errors[0].detail == "does not resolve: unknown name");
}

TEST_CASE("roots: when no name resolves the failure names the first") {
  Scenario s;
  DiscoverOptions o;
  o.verify = false;  // No TURN server here to answer.
  o.roots = {"bad.example.org", "worse.example.org:9"};
  const DiscoveryResult r = s.discover(o);
  CHECK_FALSE(r.ok());
  CHECK(r.failure == "no root resolved: bad.example.org does not resolve: unknown name");
  CHECK(r.errors.size() == 2);
  CHECK(r.total_time == 0ms);
  CHECK(r.probes_sent == 0);
}

TEST_CASE("roots: the deadline counts from start and may pass during the look-ups") {
  Scenario s;
  s.add(server(0, 1), leaf("eu", turn(1)), 10ms);
  DiscoverOptions o;
  o.verify = false;  // No TURN server here to answer.
  o.roots = {"slow.example.org"};
  o.timeout = 500ms;
  SUBCASE("no answer before the deadline") {
    auto id = s.prober.start(s.net.now(), o);
    REQUIRE(id.ok());
    CHECK(take_requests(s.prober, *id).size() == 1);
    CHECK(s.prober.next_timeout() == kStart + 500ms);
    auto r = run_to_result(s, 2s);
    REQUIRE(r);
    CHECK(s.net.now() == kStart + 500ms);
    CHECK_FALSE(r->ok());
    CHECK(r->failure == "the timeout (500ms) passed while resolving root names");
    CHECK(r->total_time == 500ms);
    // A late answer changes nothing.
    const Endpoint late = server(0, 1);
    s.prober.on_resolved(s.net.now(), *id, "slow.example.org", std::span(&late, 1));
    CHECK(s.prober.poll_result() == std::nullopt);
    CHECK(s.prober.active() == 0);
  }
  SUBCASE("an answer leaves the rest of the deadline to the descent") {
    FakeServerConfig silent_config;
    silent_config.name = "silent";
    silent_config.silent = true;
    s.add(server(0, 2), silent_config, 10ms);
    auto id = s.prober.start(s.net.now(), o);
    REQUIRE(id.ok());
    take_requests(s.prober, *id);
    s.net.run_for(300ms);
    const Endpoint silent = server(0, 2);
    s.prober.on_resolved(s.net.now(), *id, "slow.example.org", std::span(&silent, 1));
    s.net.kick(s.client);
    auto r = run_to_result(s, 2s);
    REQUIRE(r);
    CHECK_FALSE(r->ok());
    CHECK(s.net.now() == kStart + 500ms);  // Not 300 ms + a whole deadline.
    CHECK(r->total_time == 500ms);
  }
}

TEST_CASE("roots: index:N counts the roots as written") {
  Scenario s;
  s.add(server(0, 1), leaf("a1", turn(1)), 10ms);
  s.add(server(0, 2), leaf("a2", turn(2)), 10ms);
  s.add(server(0, 3), leaf("b", turn(3)), 30ms);
  s.names["a.example.org"] = {server(0, 1), server(0, 2)};
  DiscoverOptions o;
  o.verify = false;  // No TURN server here to answer.
  o.roots = {"a.example.org", "10.0.0.3:3478"};
  o.use_last_path = false;
  o.blacklist = {"index:1"};
  DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(r.path[0].address != to_address(server(0, 3)));
  CHECK(s.servers[2].probes.empty());
  o.blacklist = {"index:0"};
  r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(hop_names(r) == Names{"b"});
  CHECK(count_errors(r, PeerErrorKind::kBlacklisted) == 2);  // Both addresses of the name.
}

TEST_CASE("roots: discoveries still resolving count against the bound, and cancel ends them") {
  ProberConfig config;
  config.max_discoveries = 1;
  Scenario s(1, config);
  DiscoverOptions o;
  o.verify = false;  // No TURN server here to answer.
  o.roots = {"scout.example.org"};
  auto a = s.prober.start(s.net.now(), o);
  REQUIRE(a.ok());
  CHECK(s.prober.active() == 1);
  auto b = s.prober.start(s.net.now(), o);
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().code == StartErrc::kTooManyAtOnce);
  CHECK(s.prober.cancel(*a));
  CHECK(s.prober.active() == 0);
  CHECK(s.prober.poll_resolve() == std::nullopt);  // Its request went with it.
  CHECK(s.prober.next_timeout() == kNever);
  const Endpoint late = server(0, 1);
  s.prober.on_resolved(s.net.now(), *a, "scout.example.org", std::span(&late, 1));
  CHECK(s.prober.poll_result() == std::nullopt);
  CHECK(s.prober.start(s.net.now(), o).ok());
}

}  // namespace turnscout::client::testing
