// Hostile servers: a listing is the server's word only. Found by an attack run: one reply
// listing 122 children made the client send 610 probes of 1,200 bytes to third parties, a
// chain of hostile servers drew megabytes, and a 0.0.0.0 child was probed on the local
// host. Each test counts what the client sent on the simulated network.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "client/core/address_policy.hpp"
#include "client/core/prober.hpp"
#include "tests/client/fake_server.hpp"
#include "tests/client/scenario.hpp"

namespace turnscout::client::testing {
namespace {

// What the client sent, as the network saw it.
struct Sent {
  size_t datagrams = 0;
  size_t bytes = 0;
  std::vector<Endpoint> to;
};

void count_sent(Scenario& s, Sent& sent) {
  s.net.set_tap([&s, &sent](const sim::TapEvent& e) {
    if (e.from_node == s.client) {
      ++sent.datagrams;
      sent.bytes += e.bytes.size();
      if (std::find(sent.to.begin(), sent.to.end(), e.to) == sent.to.end()) sent.to.push_back(e.to);
    }
    return sim::TapAction::kPass;
  });
}

Endpoint victim(uint32_t i) {
  return Endpoint::v4(10, 1, static_cast<uint8_t>(i / 250), static_cast<uint8_t>(i % 250 + 1),
                      3478);
}

FakeServerConfig silent() {
  FakeServerConfig c;
  c.silent = true;
  return c;
}

}  // namespace

TEST_CASE("hostile: a reply listing 122 children gets 16 of them probed, within the budget") {
  Scenario s;
  std::vector<Endpoint> children;
  for (uint32_t i = 0; i < 122; ++i) {
    children.push_back(victim(i));
    s.add(victim(i), silent());
  }
  s.add(server(0, 1), branch("wide", children));
  Sent sent;
  count_sent(s, sent);
  const DiscoveryResult r = s.discover(s.options({server(0, 1)}));
  CHECK_FALSE(r.ok());
  MESSAGE("sent ", sent.datagrams, " datagrams, ", sent.bytes, " bytes to ", sent.to.size(),
          " addresses");
  CHECK(sent.to.size() == 1 + 16);
  CHECK(sent.datagrams <= 64);
  CHECK(sent.bytes <= 80 * 1024);
  CHECK(r.probes_sent == sent.datagrams);
  // As many as fit its reply (the server keeps it no larger than the 1,200-byte probe).
  CHECK(std::any_of(r.errors.begin(), r.errors.end(), [](const PeerError& e) {
    return e.detail.starts_with("listed ") &&
           e.detail.ends_with(" more children than max_children_per_level 16: not probed");
  }));
  CHECK(std::any_of(r.errors.begin(), r.errors.end(), [](const PeerError& e) {
    return e.detail.starts_with("over the discovery's budget (64 probes");
  }));
}

TEST_CASE("hostile: a chain of servers each listing 60 more stays within 64 probes") {
  Scenario s;
  uint32_t next_victim = 0;
  // Eight hostile servers; each lists the next one among 59 silent third parties.
  for (uint8_t level = 8; level >= 1; --level) {
    std::vector<Endpoint> children;
    if (level < 8) children.push_back(server(0, static_cast<uint8_t>(level + 1)));
    while (children.size() < 60) {
      children.push_back(victim(next_victim));
      s.add(victim(next_victim++), silent());
    }
    s.add(server(0, level), branch("hostile-" + std::to_string(level), children));
  }
  Sent sent;
  count_sent(s, sent);
  DiscoverOptions o = s.options({server(0, 1)});
  o.timeout = std::chrono::seconds{60};
  const DiscoveryResult r = s.discover(o, std::chrono::seconds{61});
  CHECK_FALSE(r.ok());
  MESSAGE("sent ", sent.datagrams, " datagrams, ", sent.bytes, " bytes");
  CHECK(sent.datagrams <= 64);
  CHECK(sent.bytes <= 80 * 1024);
}

TEST_CASE("hostile: a public server may not send the client to special or inner addresses") {
  Scenario s;
  const Endpoint root = Endpoint::v4(203, 0, 113, 1, 3478);
  const Endpoint good = Endpoint::v4(198, 51, 100, 8, 3478);
  const Endpoint loopback = Endpoint::v4(127, 0, 0, 1, 3478);
  const Endpoint lan = Endpoint::v4(192, 168, 1, 1, 3478);
  s.add(good, leaf("good", turn(8)));
  s.add(loopback, silent());
  s.add(lan, silent());
  s.add(root, branch("root", {Endpoint::v4(0, 0, 0, 0, 3478), Endpoint::v4(224, 0, 0, 1, 3478),
                              Endpoint::v4(255, 255, 255, 255, 3478),
                              Endpoint::v4(198, 51, 100, 9, 0), loopback, lan, good}));
  Sent sent;
  count_sent(s, sent);

  SUBCASE("by default only the public child is probed") {
    const DiscoveryResult r = s.discover(s.options({root}));
    REQUIRE(r.ok());
    CHECK(r.path.back().name == "good");
    CHECK(sent.to == std::vector<Endpoint>{root, good});
    std::vector<std::string> reasons;
    for (const PeerError& e : r.errors)
      reasons.push_back(e.detail);
    const std::string by = "listed by 203.0.113.1:3478: ";
    CHECK(reasons == std::vector<std::string>{
                         by + "an unspecified address",
                         by + "a multicast address",
                         by + "the broadcast address",
                         by + "port 0",
                         by + "a loopback address named by a public server "
                              "(allow_any_scope permits it)",
                         by + "a private address named by a public server "
                              "(allow_any_scope permits it)",
                     });
  }
  SUBCASE("allow_any_scope lets the inner ones through, never the special ones") {
    DiscoverOptions o = s.options({root});
    o.allow_any_scope = true;
    const DiscoveryResult r = s.discover(o);
    REQUIRE(r.ok());
    CHECK(sent.to.size() == 4);  // The root, loopback, lan and good.
  }
}

TEST_CASE("hostile: a public leaf's TURN servers on inner addresses are not checked") {
  Scenario s;
  const Endpoint root = Endpoint::v4(203, 0, 113, 1, 3478);
  FakeServerConfig c = leaf("leaf", "turn:127.0.0.1:3478?transport=udp");
  c.services.push_back("turn:10.9.9.9:3478?transport=udp");
  s.add(root, c);
  Sent sent;
  count_sent(s, sent);
  DiscoverOptions o = s.options({root});
  o.verify = true;
  const DiscoveryResult r = s.discover(o);
  CHECK_FALSE(r.ok());
  CHECK(r.failure == "no TURN server could be checked by a STUN Binding over UDP or TCP");
  REQUIRE(r.verification.tried.size() == 2);
  CHECK(r.verification.tried[0].outcome ==
        "not checked: a loopback address named by a public server (allow_any_scope permits it)");
  CHECK(r.verification.tried[0].address.empty());
  CHECK(sent.to == std::vector<Endpoint>{root});
}

TEST_CASE("hostile: leaves naming dead TURN servers draw at most max_bindings Bindings") {
  // 16 leaves under one root, each naming 16 TURN servers that never answer. Every leaf
  // fails verification, so the walk backtracks through all of them; with a long timeout
  // that was about 250 Bindings to third parties before the Bindings had a budget.
  Scenario s;
  std::vector<Endpoint> leaves;
  uint32_t next_victim = 0;
  for (uint8_t i = 1; i <= 16; ++i) {
    FakeServerConfig c = leaf("leaf-" + std::to_string(i), "");
    c.services.clear();
    for (int k = 0; k < 16; ++k) {
      const Endpoint v = victim(next_victim++);
      s.add(v, silent());
      c.services.push_back("turn:" + to_string(v) + "?transport=udp");
    }
    leaves.push_back(server(1, i));
    s.add(server(1, i), c);
  }
  s.add(server(0, 1), branch("root", leaves));
  Sent sent;
  count_sent(s, sent);
  DiscoverOptions o = s.options({server(0, 1)});
  o.verify = true;
  o.timeout = std::chrono::seconds{60};
  const DiscoveryResult r = s.discover(o, std::chrono::seconds{61});
  CHECK_FALSE(r.ok());
  const size_t bindings = sent.datagrams - r.probes_sent;
  MESSAGE("sent ", r.probes_sent, " probes and ", bindings, " Bindings");
  CHECK(bindings <= o.max_bindings);
  CHECK(r.bindings_sent == bindings);
  CHECK(
      r.failure.starts_with("no TURN server answered a STUN Binding within the discovery's "
                            "budget of 32 Bindings"));
  REQUIRE_FALSE(r.verification.tried.empty());
  // 32 = 10 services × 3 attempts, and 2 to the eleventh when the budget ran out.
  CHECK(r.verification.tried.size() == 11);
  CHECK(r.verification.tried.back().outcome ==
        "2 attempts, no reply; then over the discovery's budget (32 Bindings sent)");
}

TEST_CASE("address policy: scopes and special addresses") {
  CHECK(scope_of(Endpoint::v4(8, 8, 8, 8, 53)) == AddressScope::kPublic);
  CHECK(scope_of(Endpoint::v4(172, 31, 0, 1, 1)) == AddressScope::kPrivate);
  CHECK(scope_of(Endpoint::v4(172, 32, 0, 1, 1)) == AddressScope::kPublic);
  CHECK(scope_of(Endpoint::v4(100, 127, 0, 1, 1)) == AddressScope::kPrivate);
  CHECK(scope_of(Endpoint::v4(169, 254, 1, 1, 1)) == AddressScope::kPrivate);
  CHECK(scope_of(Endpoint::v4(127, 2, 0, 1, 1)) == AddressScope::kLoopback);
  CHECK(scope_of(v6(1)) == AddressScope::kPublic);
  CHECK(scope_of(Endpoint::v6({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 1)) ==
        AddressScope::kPrivate);
  CHECK(scope_of(Endpoint::v6({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 1)) ==
        AddressScope::kPrivate);
  CHECK(scope_of(Endpoint::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 1)) ==
        AddressScope::kLoopback);
  CHECK(never_probed(Endpoint::v6({0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 1)) ==
        "a multicast address");
  CHECK(never_probed(Endpoint::v6({}, 1)) == "an unspecified address");
  CHECK(never_probed(Endpoint::v4(240, 0, 0, 1, 1)) == "a reserved address");
  CHECK(never_probed(Endpoint::v4(0, 1, 2, 3, 1)) == "an unspecified address");
  CHECK_FALSE(never_probed(Endpoint::v4(192, 0, 2, 1, 1)));
  // A loopback server (a test bed) may name anything unicast; a private one not loopback.
  CHECK_FALSE(refuse_named(Endpoint::v4(127, 0, 0, 1, 1), Endpoint::v4(10, 0, 0, 1, 1), false));
  CHECK_FALSE(refuse_named(Endpoint::v4(10, 0, 0, 1, 1), Endpoint::v4(8, 8, 8, 8, 1), false));
  CHECK(refuse_named(Endpoint::v4(10, 0, 0, 1, 1), Endpoint::v4(127, 0, 0, 1, 1), false));
}

}  // namespace turnscout::client::testing
