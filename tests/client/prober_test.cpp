// The Prober's API and its memory: option checking, several discoveries at once,
// cancellation, stray datagrams, health across discoveries, and the bounded peer table.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "client/core/exchange.hpp"
#include "client/core/health.hpp"
#include "client/core/peer_table.hpp"
#include "client/core/prober.hpp"
#include "proto/base64url.hpp"
#include "proto/binding.hpp"
#include "tests/client/fake_server.hpp"
#include "tests/client/scenario.hpp"

namespace turnscout::client::testing {

TEST_CASE("bad options are refused with a code and one line naming the problem") {
  SeededRandom random(1);
  Prober prober({}, random, kStart);
  DiscoverOptions good;
  good.roots = {"10.0.0.1:3478", "root.example.org"};
  auto code = [&](auto change) -> std::optional<StartErrc> {
    DiscoverOptions o = good;
    change(o);
    auto id = prober.start(kStart, o);
    if (id.ok()) return std::nullopt;
    return id.error().code;
  };
  auto error = [&](auto change) {
    DiscoverOptions o = good;
    change(o);
    auto id = prober.start(kStart, o);
    return id.ok() ? std::string("ok") : id.error().message;
  };
  CHECK(error([](DiscoverOptions& o) { o.roots.clear(); }) ==
        "no roots: give at least one bootstrap server");
  CHECK(code([](DiscoverOptions& o) { o.roots.clear(); }) == StartErrc::kNoRoots);
  CHECK(error([](DiscoverOptions& o) { o.roots[0] = "10.0.0.1:0"; }) ==
        "root \"10.0.0.1:0\": needs an address and a port");
  CHECK(error([](DiscoverOptions& o) { o.roots[0] = "0.0.0.0:3478"; }) ==
        "root \"0.0.0.0:3478\": needs an address and a port");
  CHECK(error([](DiscoverOptions& o) { o.roots.push_back("not a root!"); }) ==
        "root \"not a root!\": expected IP:PORT, [IPv6]:PORT or HOST[:PORT]");
  CHECK(error([](DiscoverOptions& o) { o.roots.push_back("scout.example.org:0"); }) ==
        "root \"scout.example.org:0\": expected IP:PORT, [IPv6]:PORT or HOST[:PORT]");
  // Read as [::0.1.52.144]:3478 before; an unbracketed IPv6 address is refused, as in the
  // server's config.
  CHECK(error([](DiscoverOptions& o) { o.roots.push_back("::1:3490"); }) ==
        "root \"::1:3490\": an IPv6 address needs brackets, with or without a port: "
        "[IPv6]:PORT or [IPv6]");
  CHECK(error([](DiscoverOptions& o) { o.roots.push_back("2001:db8::1"); }).find("brackets") !=
        std::string::npos);
  CHECK(code([](DiscoverOptions& o) { o.roots.push_back("-bad"); }) == StartErrc::kBadRoot);
  CHECK(code([](DiscoverOptions& o) { o.timeout = 0s; }) == StartErrc::kBadOption);
  CHECK(code([](DiscoverOptions& o) { o.blacklist = {"nope"}; }) == StartErrc::kBadBlacklist);
  CHECK(error([](DiscoverOptions& o) { o.timeout = 0s; }) ==
        "timeout must be above 0 and at most 1h, got 0");
  CHECK(error([](DiscoverOptions& o) { o.survey = 2000ms; }) ==
        "survey must be from 0 to less than the timeout (2s), got 2s");
  CHECK(error([](DiscoverOptions& o) { o.grace = -1ms; }) ==
        "grace must be from 0 to the timeout, got -1ms");
  CHECK(error([](DiscoverOptions& o) { o.max_attempts = 0; }) ==
        "max_attempts and verify_attempts must be from 1 to 10, got 0 and 3");
  CHECK(error([](DiscoverOptions& o) { o.verify_attempts = 11; }) ==
        "max_attempts and verify_attempts must be from 1 to 10, got 5 and 11");
  CHECK(error([](DiscoverOptions& o) { o.pad_to = 5000; }) ==
        "pad_to must be at most 4096 bytes, got 5000");
  CHECK(error([](DiscoverOptions& o) {
          o.capacity_token = proto::base64url_encode(std::vector<uint8_t>(129, 7));
        }) == "capacity token must be at most 128 bytes, got 129");
  CHECK(error([](DiscoverOptions& o) {
          o.capacity_token = "not base64!";
        }).starts_with("capacity token: not base64url ("));
  CHECK(error([](DiscoverOptions& o) { o.max_depth = 0; }) ==
        "max_depth must be from 1 to 64, got 0");
  CHECK(error([](DiscoverOptions& o) { o.max_bindings = 0; }) ==
        "max_bindings must be from 1 to 1024, got 0");
  CHECK(error([](DiscoverOptions& o) { o.blacklist = {"index:2"}; }) ==
        "blacklist token \"index:2\": there are only 2 roots (positions 0 to 1)");
  CHECK(error([](DiscoverOptions& o) { o.blacklist = {"nope"}; }) ==
        "blacklist token \"nope\": expected index:N, addr:IP:PORT or name:NODE");
  CHECK(prober.active() == 0);
  std::vector<Datagram> out;
  prober.poll_transmit(out);
  CHECK(out.empty());
}

TEST_CASE("blacklist tokens at work: a root by index, a server by address, a node by name") {
  Scenario s;
  s.add(server(0, 1), branch("root-a", {server(1, 1)}), 5ms);
  s.add(server(0, 2), branch("root-b", {server(1, 1), server(1, 2), server(1, 3)}), 10ms);
  s.add(server(1, 1), leaf("eu", turn(11)), 5ms);
  s.add(server(1, 2), leaf("us", turn(12)), 10ms);
  s.add(server(1, 3), leaf("asia", turn(13)), 15ms);
  DiscoverOptions o = s.options({server(0, 1), server(0, 2)});
  o.use_last_path = false;
  o.blacklist = {"index:0", "addr:10.0.1.1:3478", "name:US"};
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(hop_names(r) == Names{"root-b", "asia"});
  CHECK(s.servers[0].probes.empty());
  CHECK(s.servers[2].probes.empty());
  // "us" is known only by its reply: probed, then refused.
  CHECK(s.servers[3].probes.size() == 1);
  REQUIRE(r.errors.size() == 3);
  CHECK(r.errors[0].detail == "index:0");
  CHECK(r.errors[1].detail == "addr:10.0.1.1:3478");
  CHECK(r.errors[2].detail == "name:us");
  for (const PeerError& e : r.errors)
    CHECK(e.kind == PeerErrorKind::kBlacklisted);
  // What was never sent a Probe is not counted as probed ("first of N" in the CLI).
  REQUIRE(r.path.size() == 2);
  CHECK(r.path[0].siblings_probed == 1);  // root-b; root-a is blacklisted.
  CHECK(r.path[1].siblings_probed == 2);  // us (refused by its reply) and asia; not eu.
  // Now its name is remembered: the next discovery does not even probe it.
  const DiscoveryResult again = s.discover(o);
  REQUIRE(again.ok());
  CHECK(s.servers[3].probes.size() == 1);
  REQUIRE(again.path.size() == 2);
  CHECK(again.path[1].siblings_probed == 1);
  CHECK(again.errors[2].detail == "name:us");

  // A root's host name counts as its name.
  s.names["b.example.org"] = {server(0, 2)};
  DiscoverOptions by_host = s.options({server(0, 1)});
  by_host.roots.push_back("b.example.org");
  by_host.blacklist = {"name:B.example.org"};
  const DiscoveryResult h = s.discover(by_host);
  REQUIRE(h.ok());
  CHECK(hop_names(h) == Names{"root-a", "eu"});

  // A host name that resolves to two addresses is one position in the bootstrap list.
  s.names["a.example.org"] = {server(0, 1), server(0, 2)};
  s.names["c.example.org"] = {server(0, 3)};
  DiscoverOptions expanded;
  expanded.roots = {"a.example.org", "c.example.org"};
  expanded.blacklist = {"index:0"};
  const DiscoveryResult e = s.discover(expanded);
  CHECK_FALSE(e.ok());
  REQUIRE(e.errors.size() == 3);
  CHECK(e.errors[0].detail == "index:0");
  CHECK(e.errors[0].name == "a.example.org");
  CHECK(e.errors[1].detail == "index:0");
  CHECK(e.errors[2].kind == PeerErrorKind::kTimeout);  // Nobody listens at 10.0.0.3.
  expanded.blacklist = {"index:2"};
  CHECK(s.prober.start(s.net.now(), expanded).error().message ==
        "blacklist token \"index:2\": there are only 2 roots (positions 0 to 1)");

  // Nothing left to probe.
  DiscoverOptions all = s.options({server(0, 1)});
  all.blacklist = {"index:0"};
  const DiscoveryResult none = s.discover(all);
  CHECK_FALSE(none.ok());
  CHECK(none.failure == "no root to probe: every root is blacklisted or skipped");
  CHECK(none.total_time == 0ms);
}

TEST_CASE("several discoveries run at once, each with its own result") {
  Scenario s;
  s.add(server(0, 1), leaf("a", turn(1)), 30ms);
  s.add(server(0, 2), leaf("b", turn(2)), 10ms);
  DiscoverOptions o1 = s.options({server(0, 1)});
  DiscoverOptions o2 = s.options({server(0, 2)});
  auto id1 = s.prober.start(s.net.now(), o1);
  auto id2 = s.prober.start(s.net.now(), o2);
  REQUIRE(id1.ok());
  REQUIRE(id2.ok());
  CHECK(*id2 == *id1 + 1);
  CHECK(s.prober.active() == 2);
  s.net.run_for(100ms);
  auto first = s.prober.poll_result();
  auto second = s.prober.poll_result();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->id == *id2);  // In the order they finished.
  CHECK(first->result.total_time == 20ms);
  CHECK(second->id == *id1);
  CHECK(second->result.total_time == 60ms);
  CHECK(s.prober.poll_result() == std::nullopt);
}

TEST_CASE("cancel: no result comes, and a bounded number of discoveries may run") {
  ProberConfig config;
  config.max_discoveries = 2;
  Scenario s(1, config);
  s.add(server(0, 1), leaf("a", turn(1)), 30ms);
  DiscoverOptions o = s.options({server(0, 1)});
  auto a = s.prober.start(s.net.now(), o);
  auto b = s.prober.start(s.net.now(), o);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto c = s.prober.start(s.net.now(), o);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == StartErrc::kTooManyAtOnce);
  CHECK(c.error().message == "too many discoveries at once: 2 running or not yet polled");
  CHECK(s.prober.cancel(*a));
  CHECK_FALSE(s.prober.cancel(*a));
  CHECK_FALSE(s.prober.cancel(999));
  s.net.run_for(100ms);
  auto r = s.prober.poll_result();
  REQUIRE(r);
  CHECK(r->id == *b);
  CHECK(s.prober.poll_result() == std::nullopt);
  CHECK(s.prober.counters().unmatched == 1);  // The reply to the cancelled discovery.
  // A finished but unpolled result counts against the bound; cancelling drops it.
  auto d = s.prober.start(s.net.now(), o);
  auto e = s.prober.start(s.net.now(), o);
  s.net.run_for(100ms);
  CHECK_FALSE(s.prober.start(s.net.now(), o).ok());
  CHECK(s.prober.cancel(*d));
  r = s.prober.poll_result();
  REQUIRE(r);
  CHECK(r->id == *e);
}

TEST_CASE("stray datagrams are counted and dropped") {
  SeededRandom random(1);
  Prober prober({}, random, kStart);
  const uint8_t junk[] = {1, 2, 3};
  prober.on_datagram(kStart, kClientV4, server(0, 1), junk);
  std::vector<uint8_t> request(64);
  request.resize(proto::encode_binding_request({}, request).value());
  prober.on_datagram(kStart, kClientV4, server(0, 1), request);
  std::vector<uint8_t> response(64);
  response.resize(proto::encode_binding_response({{7}, kClientV4, true}, response).value());
  prober.on_datagram(kStart, kClientV4, server(0, 1), response);
  CHECK(prober.counters().datagrams_in == 3);
  CHECK(prober.counters().not_stun == 1);
  CHECK(prober.counters().not_response == 1);
  CHECK(prober.counters().unmatched == 1);
}

TEST_CASE("health across discoveries: suspect, dead (skipped while another may answer), back") {
  Scenario s;
  FakeServerConfig flaky = leaf("flaky", turn(1));
  flaky.silent = true;
  FakeServer& bad = s.add(server(0, 1), flaky, 5ms);
  s.add(server(0, 2), leaf("steady", turn(2)), 40ms);
  DiscoverOptions o = s.options({server(0, 1), server(0, 2)});
  o.use_last_path = false;
  o.max_attempts = 1;
  auto health = [&] { return s.prober.peer(server(0, 1), s.net.now())->health; };

  CHECK(s.discover(o).ok());  // steady answers at 80ms; flaky is given up at 100ms.
  s.net.run_for(1s);
  CHECK(health() == HealthState::kHealthy);  // Its level was won first: not its fault.
  o.selection = Selection::kFirst;
  s.set_delay(server(0, 2), 60ms);  // Now flaky's attempts run out first.
  CHECK(s.discover(o).ok());
  CHECK(health() == HealthState::kSuspect);
  CHECK(s.discover(o).ok());
  CHECK(health() == HealthState::kDead);
  const TimePoint retry = s.prober.peer(server(0, 1), s.net.now())->retry_at;
  CHECK(retry - s.net.now() <= 1s);
  CHECK(retry - s.net.now() >= 800ms - 120ms);

  // Dead: not probed while steady may answer.
  const size_t probes = bad.probes.size();
  const DiscoveryResult skipped = s.discover(o);
  CHECK(skipped.ok());
  CHECK(bad.probes.size() == probes);
  REQUIRE(skipped.errors.size() == 1);
  CHECK(skipped.errors[0].kind == PeerErrorKind::kSkipped);
  CHECK(skipped.errors[0].detail.starts_with("dead: probed again in "));

  // Alone, it is probed anyway.
  DiscoverOptions alone = s.options({server(0, 1)});
  alone.max_attempts = 1;
  alone.timeout = 500ms;  // One round.
  CHECK_FALSE(s.discover(alone).ok());
  CHECK(bad.probes.size() == probes + 1);

  // After its backoff it is recovering, and one answer makes it healthy.
  s.net.run_until(s.prober.peer(server(0, 1), s.net.now())->retry_at);
  CHECK(health() == HealthState::kRecovering);
  bad.config.silent = false;
  CHECK(s.discover(o).ok());
  CHECK(health() == HealthState::kHealthy);
}

TEST_CASE("Health: transitions and a doubling backoff while dead") {
  SeededRandom random(5);
  HealthConfig config;
  config.dead_base = 1s;
  config.dead_cap = 4s;
  config.jitter = 0;
  Health h(config);
  const TimePoint t = kStart;
  CHECK(h.state(t) == HealthState::kHealthy);
  h.on_failure(t, random);
  CHECK(h.state(t) == HealthState::kSuspect);
  CHECK(h.may_probe(t));
  h.on_success();
  CHECK(h.state(t) == HealthState::kHealthy);
  h.on_failure(t, random);
  h.on_failure(t, random);
  CHECK(h.state(t) == HealthState::kDead);
  CHECK(h.retry_at() == t + 1s);
  CHECK_FALSE(h.may_probe(t + 999ms));
  CHECK(h.state(t + 1s) == HealthState::kRecovering);
  h.on_failure(t + 1s, random);
  CHECK(h.retry_at() == t + 3s);  // 2 s more.
  h.on_failure(t + 3s, random);
  CHECK(h.retry_at() == t + 7s);  // 4 s (the cap).
  h.on_failure(t + 7s, random);
  CHECK(h.retry_at() == t + 11s);
  h.on_success();
  CHECK(h.state(t + 7s) == HealthState::kHealthy);
  h.on_failure(t + 20s, random);
  h.on_failure(t + 20s, random);
  CHECK(h.retry_at() == t + 21s);  // Back to the shortest backoff.
}

TEST_CASE("PeerTable: bounded, the least recently used forgotten first") {
  ProberConfig config;
  config.max_peers = 2;
  PeerTable table(config);
  table.touch(server(0, 1), kStart).name = "a";
  table.touch(server(0, 2), kStart + 1s).name = "b";
  table.touch(server(0, 1), kStart + 2s);  // a is now the more recent.
  table.touch(server(0, 3), kStart + 3s).name = "c";
  CHECK(table.size() == 2);
  CHECK(table.evictions() == 1);
  CHECK(table.find(server(0, 2)) == nullptr);
  REQUIRE(table.find(server(0, 1)) != nullptr);
  CHECK(table.find(server(0, 1))->name == "a");
  CHECK(table.find(server(0, 3))->name == "c");
}

TEST_CASE("Exchange: the RTO doubles up to the cap, shortened by the jitter, floored") {
  RtoConfig rto;  // 50 ms floor, 400 ms cap, 10% jitter.
  SeededRandom random(9);
  Exchange e(5, 100ms, rto);
  CHECK(e.due() == TimePoint{});
  TimePoint t = kStart;
  std::vector<Duration> waits;
  while (!e.exhausted()) {
    const uint32_t attempt = e.sent(t, random);
    CHECK(attempt == e.attempts() - 1);
    waits.push_back(e.due() - t);
    t = e.due();
  }
  const std::vector<Duration> nominal{100ms, 200ms, 400ms, 400ms, 400ms};
  REQUIRE(waits.size() == nominal.size());
  for (size_t i = 0; i < waits.size(); ++i) {
    CHECK(waits[i] <= nominal[i]);
    CHECK(waits[i] >= nominal[i] * 9 / 10);
  }
  CHECK(e.sent_at(0) == kStart);
  e.pause();
  CHECK(e.due() == kNever);
  e.resume();
  CHECK(e.due() == t);

  // A slow server's first RTO above the cap is not cut back.
  Exchange slow(3, 900ms, rto);
  slow.sent(kStart, random);
  CHECK(slow.due() - kStart >= 810ms);
  // The floor holds even with full jitter.
  RtoConfig full_jitter;
  full_jitter.jitter = 1.0;
  Exchange fast(3, 10ms, full_jitter);
  fast.sent(kStart, random);
  CHECK(fast.due() - kStart >= 50ms);
}

}  // namespace turnscout::client::testing

namespace turnscout::client::testing {

// The public enums (which the core uses too) are named in the library: cli_format_test.cpp.
TEST_CASE("enum names for logs") {
  CHECK(std::string(to_string(HealthState::kRecovering)) == "recovering");
  CHECK(std::string(to_string(StartErrc::kTooManyAtOnce)) == "too-many-at-once");
}

}  // namespace turnscout::client::testing
