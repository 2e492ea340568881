#include "server/core/child_registry.hpp"
#include "server/core/snapshot_builder.hpp"

#include <doctest/doctest.h>

#include <array>
#include <string>
#include <vector>

#include "common/logging.hpp"
#include "server/io/log_events.hpp"
#include "tests/server/control_test_util.hpp"

namespace turnscout::server {
namespace {

using testing::addr;

const Endpoint kStaticA = addr(1, 11);
const Endpoint kStaticB = addr(1, 12);
const TimePoint kT0 = TimePoint{} + 100s;

proto::HeartbeatRequest heartbeat(std::string name, uint64_t timestamp_ms = 1, uint16_t load = 100,
                                  uint16_t weight = 1) {
  proto::HeartbeatRequest hb;
  hb.node_name = std::move(name);
  hb.advertised = {addr(7, 7)};
  hb.load = {load, 0};
  hb.subtree = {1, load, 0};
  hb.weight = weight;
  hb.timestamp_ms = timestamp_ms;
  return hb;
}

// `hb` under another transaction id: the same timestamp, but not a retransmission.
proto::HeartbeatRequest another_id(proto::HeartbeatRequest hb) {
  hb.transaction_id[0] ^= 0xA5;
  return hb;
}

proto::LeaveRequest leave(std::string name, uint64_t timestamp_ms = 2) {
  proto::LeaveRequest l;
  l.node_name = std::move(name);
  l.timestamp_ms = timestamp_ms;
  return l;
}

const ChildStatus* find(const std::vector<ChildStatus>& all, const std::string& name) {
  for (const ChildStatus& c : all) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

ChildLiveness liveness(const ChildRegistry& r, const std::string& name) {
  const auto all = r.status();
  const ChildStatus* c = find(all, name);
  REQUIRE(c != nullptr);
  return c->liveness;
}

std::vector<StaticChildConfig> two_static() {
  return {{"leaf-a", kStaticA, 2}, {"leaf-b", kStaticB, 1}};
}

// Runs every transition up to `until` the way a driver would: one on_timeout per deadline.
void run_until(ChildRegistry& r, TimePoint until) {
  while (r.next_timeout() <= until)
    r.on_timeout(r.next_timeout());
}

TEST_CASE("static children start dead and unheard, and come alive on their first heartbeat") {
  ChildRegistry r(RegistryPolicy{}, two_static(), log_events());
  CHECK(r.size() == 2);
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kDead);
  CHECK_FALSE(find(r.status(), "leaf-a")->heard);
  CHECK(r.next_timeout() == kNever);

  LogCapture log;
  const uint64_t before = r.generation();
  // A listed child's address with another name is refused (found by comparing
  // PROTOCOL.md §9 with the server: the configured name used to win silently).
  CHECK(r.on_heartbeat(kT0, kStaticA, heartbeat("whatever")) == Admit::kWrongName);
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kDead);
  CHECK(r.generation() == before);
  CHECK(find(r.status(), "whatever") == nullptr);
  CHECK(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a")) == Admit::kAccepted);
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kAlive);
  CHECK(r.generation() != before);
  CHECK(log.count("child leaf-a alive (first heartbeat") == 1);
}

TEST_CASE("liveness: suspect after 1.5 intervals, dead after missed intervals, at exact times") {
  RegistryPolicy policy;
  policy.interval = 1s;
  policy.missed = 3;
  ChildRegistry r(policy, two_static(), log_events());
  LogCapture log;
  REQUIRE(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a")) == Admit::kAccepted);
  CHECK(r.next_timeout() == kT0 + 1500ms);

  run_until(r, kT0 + 1499ms);
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kAlive);
  run_until(r, kT0 + 1500ms);
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kSuspect);
  CHECK(log.count("child leaf-a suspect (no heartbeat for 1.5s)") == 1);
  CHECK(r.next_timeout() == kT0 + 3000ms);
  run_until(r, kT0 + 2999ms);
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kSuspect);
  run_until(r, kT0 + 3000ms);
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kDead);
  CHECK(log.count("child leaf-a dead (no heartbeat for 3s)") == 1);
  // A static child is never forgotten.
  CHECK(r.next_timeout() == kNever);

  // Re-admission: the next heartbeat brings it back, whenever it comes.
  REQUIRE(r.on_heartbeat(kT0 + 100s, kStaticA, heartbeat("leaf-a")) == Admit::kAccepted);
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kAlive);
  CHECK(log.count("child leaf-a alive again (was dead)") == 1);
}

TEST_CASE("regular heartbeats keep a child alive, with no log line per heartbeat") {
  ChildRegistry r(RegistryPolicy{}, two_static(), log_events());
  LogCapture log;
  for (int i = 0; i < 20; ++i) {
    const TimePoint t = kT0 + i * 1s + (i % 2) * 300ms;  // 300 ms of jitter.
    run_until(r, t);
    REQUIRE(r.on_heartbeat(t, kStaticA, heartbeat("leaf-a")) == Admit::kAccepted);
    CHECK(liveness(r, "leaf-a") == ChildLiveness::kAlive);
  }
  CHECK(log.records().size() == 1);  // Only the first "alive".
}

TEST_CASE("missed = 1 goes straight from alive to dead") {
  RegistryPolicy policy;
  policy.missed = 1;
  ChildRegistry r(policy, two_static(), log_events());
  LogCapture log;
  REQUIRE(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a")) == Admit::kAccepted);
  run_until(r, kT0 + 1500ms);
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kDead);
  CHECK(log.count("suspect") == 0);
}

TEST_CASE("Leave marks a child left at once; its next heartbeat re-admits it") {
  ChildRegistry r(RegistryPolicy{}, two_static(), log_events());
  REQUIRE(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a")) == Admit::kAccepted);
  LogCapture log;
  const uint64_t before = r.generation();
  CHECK(r.on_leave(kT0 + 10ms, kStaticA, leave("leaf-a")) == Admit::kAccepted);
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kLeft);
  CHECK(r.generation() != before);
  CHECK(log.count("child leaf-a left") == 1);
  // A repeated Leave changes nothing and logs nothing.
  CHECK(r.on_leave(kT0 + 20ms, kStaticA, leave("leaf-a")) == Admit::kAccepted);
  CHECK(log.count("left") == 1);
  CHECK(r.next_timeout() == kNever);
  CHECK(r.on_heartbeat(kT0 + 5s, kStaticA, heartbeat("leaf-a")) == Admit::kAccepted);
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kAlive);
  CHECK(log.count("child leaf-a alive again (was left)") == 1);
}

TEST_CASE("without a key only static children, from their configured address, are accepted") {
  RegistryPolicy policy;
  policy.accept_dynamic = true;  // Ignored without authentication.
  ChildRegistry r(policy, two_static(), log_events());
  CHECK(r.on_heartbeat(kT0, addr(5, 5), heartbeat("leaf-a")) == Admit::kUnknown);
  CHECK(r.on_heartbeat(kT0, addr(1, 11, 9999), heartbeat("leaf-a")) == Admit::kUnknown);
  CHECK(r.on_leave(kT0, addr(5, 5), leave("leaf-a")) == Admit::kUnknown);
  CHECK(r.size() == 2);
  // No replay protection without a key: the same timestamp twice is accepted.
  CHECK(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a", 5)) == Admit::kAccepted);
  CHECK(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a", 5)) == Admit::kAccepted);
}

RegistryPolicy dynamic_policy(size_t max_dynamic) {
  RegistryPolicy policy;
  policy.authenticated = true;
  policy.accept_dynamic = true;
  policy.max_dynamic = max_dynamic;
  return policy;
}

TEST_CASE("authenticated: dynamic children by name, replay protection, bounded table") {
  RegistryPolicy policy = dynamic_policy(2);
  ChildRegistry r(policy, two_static(), log_events());

  CHECK(r.on_heartbeat(kT0, addr(5, 1), heartbeat("dyn-1", 10)) == Admit::kAccepted);
  CHECK(r.dynamic_count() == 1);
  CHECK(find(r.status(), "dyn-1")->dynamic);
  // Strictly newer timestamps only, per child...
  CHECK(r.on_heartbeat(kT0, addr(5, 1), another_id(heartbeat("dyn-1", 10))) == Admit::kReplayed);
  // ...except the accepted request itself again (same transaction id and timestamp): a
  // retransmission, answered again, applied once (PROTOCOL.md §10). Found by comparing the
  // document with the server, which refused it with 438.
  const TimePoint heard = find(r.status(), "dyn-1")->last_heard;
  CHECK(r.on_heartbeat(kT0 + 1s, addr(5, 1), heartbeat("dyn-1", 10)) == Admit::kAccepted);
  CHECK(find(r.status(), "dyn-1")->last_heard == heard);
  // Not from another address, though.
  CHECK(r.on_heartbeat(kT0, addr(5, 7), heartbeat("dyn-1", 10)) == Admit::kReplayed);
  CHECK(r.on_heartbeat(kT0, addr(5, 1), heartbeat("dyn-1", 9)) == Admit::kReplayed);
  CHECK(r.on_heartbeat(kT0, addr(5, 1), heartbeat("dyn-1", 11)) == Admit::kAccepted);
  CHECK(r.on_leave(kT0, addr(5, 1), leave("dyn-1", 11)) == Admit::kReplayed);
  // A dynamic child may move: its name is its identity.
  CHECK(r.on_heartbeat(kT0, addr(5, 9), heartbeat("dyn-1", 12)) == Admit::kAccepted);
  CHECK(find(r.status(), "dyn-1")->source == addr(5, 9));
  CHECK(r.dynamic_count() == 1);
  // A static child's name cannot be taken from another address.
  CHECK(r.on_heartbeat(kT0, addr(5, 2), heartbeat("leaf-a", 20)) == Admit::kNameTaken);
  // Static children: by address, and with replay protection too.
  CHECK(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a", 30)) == Admit::kAccepted);
  CHECK(r.on_heartbeat(kT0, kStaticA, another_id(heartbeat("leaf-a", 30))) == Admit::kReplayed);

  CHECK(r.on_heartbeat(kT0, addr(5, 2), heartbeat("dyn-2", 10)) == Admit::kAccepted);
  LogCapture log;
  CHECK(r.on_heartbeat(kT0, addr(5, 3), heartbeat("dyn-3", 10)) == Admit::kFull);
  CHECK(r.on_heartbeat(kT0, addr(5, 4), heartbeat("dyn-4", 10)) == Admit::kFull);
  CHECK(r.rejected_full() == 2);
  CHECK(log.count("children table full (2 dynamic, all alive): refusing new children") == 1);
  CHECK(r.dynamic_count() == 2);
  // Leave never creates a child.
  CHECK(r.on_leave(kT0, addr(5, 5), leave("dyn-5", 10)) == Admit::kUnknown);
}

// Found by an attack run: 4,096 signed heartbeats in 3 s filled the table, and a real new
// child got 403 for the hour dead entries were kept.
TEST_CASE("a table full of dead or departed dynamic children makes room for a new one") {
  RegistryPolicy policy = dynamic_policy(4);
  ChildRegistry r(policy, two_static(), log_events());
  for (uint8_t i = 1; i <= 4; ++i) {
    REQUIRE(r.on_heartbeat(kT0, addr(6, i), heartbeat("squatter-" + std::to_string(i), 10)) ==
            Admit::kAccepted);
  }
  CHECK(r.on_leave(kT0 + 100ms, addr(6, 4), leave("squatter-4", 11)) == Admit::kAccepted);
  // One has left: it gives way at once. Then all are alive: refused.
  CHECK(r.on_heartbeat(kT0 + 200ms, addr(7, 1), heartbeat("real-1", 10)) == Admit::kAccepted);
  CHECK_FALSE(find(r.status(), "squatter-4"));
  CHECK(r.on_heartbeat(kT0 + 200ms, addr(7, 2), heartbeat("real-2", 10)) == Admit::kFull);
  // The squatters stop; real-1 keeps beating. Once they are dead (3 intervals), real-2 gets
  // the place of the one dead the longest.
  for (int s = 1; s <= 4; ++s) {
    const TimePoint t = kT0 + std::chrono::seconds{s};
    run_until(r, t);
    REQUIRE(r.on_heartbeat(t, addr(7, 1), heartbeat("real-1", 10 + static_cast<uint64_t>(s))) ==
            Admit::kAccepted);
  }
  CHECK(liveness(r, "squatter-1") == ChildLiveness::kDead);
  CHECK(r.on_heartbeat(kT0 + 4s, addr(7, 2), heartbeat("real-2", 11)) == Admit::kAccepted);
  CHECK(r.replaced_dynamic() == 2);
  CHECK(r.dynamic_count() == 4);
  CHECK(liveness(r, "real-1") == ChildLiveness::kAlive);
}

TEST_CASE("one source registers a burst of new dynamic children, then one per interval") {
  RegistryPolicy policy = dynamic_policy(1000);
  policy.registrations_per_source = 8;
  ChildRegistry r(policy, {}, log_events());
  int accepted = 0;
  for (int i = 0; i < 20; ++i) {
    // Any port of the one address counts for it.
    const Endpoint from = addr(6, 1, static_cast<uint16_t>(5000 + i));
    accepted +=
        r.on_heartbeat(kT0, from, heartbeat("n-" + std::to_string(i), 10)) == Admit::kAccepted ? 1
                                                                                               : 0;
  }
  CHECK(accepted == 8);
  CHECK(r.on_heartbeat(kT0, addr(6, 2), heartbeat("other", 10)) == Admit::kAccepted);
  // Known children are not charged.
  CHECK(r.on_heartbeat(kT0, addr(6, 1, 5000), heartbeat("n-0", 11)) == Admit::kAccepted);
  CHECK(r.on_heartbeat(kT0 + 1s, addr(6, 1), heartbeat("late", 10)) == Admit::kAccepted);
  CHECK(r.on_heartbeat(kT0 + 1s, addr(6, 1), heartbeat("later", 10)) == Admit::kFull);
}

TEST_CASE("authenticated without accept_dynamic: unknown names are refused") {
  RegistryPolicy policy;
  policy.authenticated = true;
  ChildRegistry r(policy, two_static(), log_events());
  CHECK(r.on_heartbeat(kT0, addr(5, 1), heartbeat("dyn-1", 10)) == Admit::kUnknown);
  CHECK(r.size() == 2);
}

TEST_CASE("a dead or left dynamic child is forgotten after forget_after, a static one is kept") {
  RegistryPolicy policy;
  policy.authenticated = true;
  policy.accept_dynamic = true;
  policy.forget_after = 10min;
  ChildRegistry r(policy, two_static(), log_events());
  REQUIRE(r.on_heartbeat(kT0, addr(5, 1), heartbeat("dyn-1", 10)) == Admit::kAccepted);
  REQUIRE(r.on_heartbeat(kT0, addr(5, 2), heartbeat("dyn-2", 10)) == Admit::kAccepted);
  REQUIRE(r.on_leave(kT0 + 1s, addr(5, 2), leave("dyn-2", 11)) == Admit::kAccepted);
  REQUIRE(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a", 10)) == Admit::kAccepted);
  LogCapture log;
  run_until(r, kT0 + 3000ms);
  CHECK(liveness(r, "dyn-1") == ChildLiveness::kDead);
  run_until(r, kT0 + 1s + 10min - 1us);
  CHECK(r.size() == 4);
  run_until(r, kT0 + 1s + 10min);  // dyn-2 left at kT0 + 1s.
  CHECK(find(r.status(), "dyn-2") == nullptr);
  run_until(r, kT0 + 3000ms + 10min - 1us);
  CHECK(find(r.status(), "dyn-1") != nullptr);
  run_until(r, kT0 + 3000ms + 10min);
  CHECK(find(r.status(), "dyn-1") == nullptr);
  CHECK(r.dynamic_count() == 0);
  CHECK(log.count("child dyn-1 forgotten") == 1);
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kDead);
  CHECK(r.next_timeout() == kNever);
  // Forgotten is not banned: it can come back.
  CHECK(r.on_heartbeat(kT0 + 1h, addr(5, 1), heartbeat("dyn-1", 50)) == Admit::kAccepted);
}

TEST_CASE("weight: the configured one unless the child asks for another") {
  ChildRegistry r(RegistryPolicy{}, two_static(), log_events());
  REQUIRE(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a", 1, 100, 1)) == Admit::kAccepted);
  CHECK(find(r.status(), "leaf-a")->weight == 2);
  REQUIRE(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a", 2, 100, 5)) == Admit::kAccepted);
  CHECK(find(r.status(), "leaf-a")->weight == 5);
}

TEST_CASE("generation changes only when something visible changes") {
  ChildRegistry r(RegistryPolicy{}, two_static(), log_events());
  REQUIRE(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a", 1, 100)) == Admit::kAccepted);
  uint64_t g = r.generation();
  REQUIRE(r.on_heartbeat(kT0 + 1s, kStaticA, heartbeat("leaf-a", 2, 100)) == Admit::kAccepted);
  CHECK(r.generation() == g);
  REQUIRE(r.on_heartbeat(kT0 + 2s, kStaticA, heartbeat("leaf-a", 3, 250)) == Admit::kAccepted);
  CHECK(r.generation() != g);
  g = r.generation();
  auto draining = heartbeat("leaf-a", 4, 250);
  draining.state = proto::NodeState::kDraining;
  LogCapture log;
  REQUIRE(r.on_heartbeat(kT0 + 3s, kStaticA, draining) == Admit::kAccepted);
  CHECK(r.generation() != g);
  CHECK(find(r.status(), "leaf-a")->draining);
  CHECK(log.count("child leaf-a draining") == 1);
}

TEST_CASE("reconfigure keeps surviving children's state, adds and removes static ones") {
  RegistryPolicy policy;
  policy.authenticated = true;
  policy.accept_dynamic = true;
  ChildRegistry r(policy, two_static(), log_events());
  REQUIRE(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a", 10, 300)) == Admit::kAccepted);
  REQUIRE(r.on_heartbeat(kT0, kStaticB, heartbeat("leaf-b", 10)) == Admit::kAccepted);
  REQUIRE(r.on_heartbeat(kT0, addr(5, 1), heartbeat("dyn-1", 10)) == Admit::kAccepted);
  run_until(r, kT0 + 2s);  // Both suspect now.

  const Endpoint static_c = addr(1, 13);
  r.reconfigure(kT0 + 2s, policy, {{"leaf-a", kStaticA, 4}, {"leaf-c", static_c, 1}});
  const auto all = r.status();
  REQUIRE(find(all, "leaf-a") != nullptr);
  CHECK(find(all, "leaf-a")->liveness == ChildLiveness::kSuspect);
  CHECK(find(all, "leaf-a")->load_permille == 300);
  CHECK(find(all, "leaf-a")->last_heard == kT0);
  CHECK(find(all, "leaf-a")->weight == 4);
  CHECK(find(all, "leaf-b") == nullptr);
  REQUIRE(find(all, "leaf-c") != nullptr);
  CHECK_FALSE(find(all, "leaf-c")->heard);
  CHECK(find(all, "dyn-1") != nullptr);
  // Replay state survives too.
  CHECK(r.on_heartbeat(kT0 + 2s, kStaticA, another_id(heartbeat("leaf-a", 10))) ==
        Admit::kReplayed);

  // Dropping the key (or dynamic acceptance) forgets dynamic children.
  r.reconfigure(kT0 + 2s, RegistryPolicy{}, {{"leaf-a", kStaticA, 4}});
  CHECK(find(r.status(), "dyn-1") == nullptr);
  CHECK(r.dynamic_count() == 0);
  CHECK(r.size() == 1);
}

TEST_CASE("reconfigure: a dynamic child gives its name up to a new static child") {
  RegistryPolicy policy;
  policy.authenticated = true;
  policy.accept_dynamic = true;
  ChildRegistry r(policy, {}, log_events());
  REQUIRE(r.on_heartbeat(kT0, addr(5, 1), heartbeat("edge", 10)) == Admit::kAccepted);
  r.reconfigure(kT0, policy, {{"edge", kStaticA, 1}});
  REQUIRE(r.size() == 1);
  CHECK_FALSE(find(r.status(), "edge")->dynamic);
  CHECK(r.dynamic_count() == 0);
  CHECK(r.on_heartbeat(kT0, addr(5, 1), heartbeat("edge", 11)) == Admit::kNameTaken);
  CHECK(r.on_heartbeat(kT0, kStaticA, heartbeat("edge", 11)) == Admit::kAccepted);
}

TEST_CASE("reconfigure with a shorter interval applies overdue transitions at once") {
  ChildRegistry r(RegistryPolicy{}, two_static(), log_events());
  REQUIRE(r.on_heartbeat(kT0, kStaticA, heartbeat("leaf-a")) == Admit::kAccepted);
  RegistryPolicy fast;
  fast.interval = 100ms;
  r.reconfigure(kT0 + 1s, fast, two_static());
  CHECK(liveness(r, "leaf-a") == ChildLiveness::kDead);
}

}  // namespace
}  // namespace turnscout::server

namespace turnscout::server {

// Found by an attack run: spoofed keyless heartbeats from a listed child's address sent the
// CLI to 127.9.9.9:9999.
TEST_CASE("without a key a child is offered at its heartbeats' source IP address only") {
  ChildRegistry r(RegistryPolicy{}, two_static(), log_events());
  proto::HeartbeatRequest hb = heartbeat("leaf-a");
  hb.advertised = {Endpoint::v4(127, 9, 9, 9, 9999), addr(1, 11, 4000)};
  REQUIRE(r.on_heartbeat(kT0, kStaticA, hb) == Admit::kAccepted);
  CHECK(find(r.status(), "leaf-a")->advertised == std::vector<Endpoint>{addr(1, 11, 4000)});
  hb.advertised = {Endpoint::v4(127, 9, 9, 9, 9999)};
  REQUIRE(r.on_heartbeat(kT0 + 1s, kStaticA, hb) == Admit::kAccepted);
  CHECK(find(r.status(), "leaf-a")->advertised == std::vector<Endpoint>{kStaticA});
  // With a key, the signed addresses stand.
  RegistryPolicy keyed;
  keyed.authenticated = true;
  ChildRegistry k(keyed, two_static(), log_events());
  hb.timestamp_ms = 5;
  REQUIRE(k.on_heartbeat(kT0, kStaticA, hb) == Admit::kAccepted);
  CHECK(find(k.status(), "leaf-a")->advertised == hb.advertised);
}

namespace {

// Found by comparing PROTOCOL.md with the server: a branch's LOAD counted a child it could
// not list (here one that advertises only a wildcard, so it has no address to give),
// telling clients of a load no offered path reaches.
TEST_CASE("a branch's LOAD is the best of the children it lists") {
  RegistryPolicy policy;
  policy.authenticated = true;  // Advertised addresses are taken as given.
  ChildRegistry r(policy, two_static(), log_events());
  proto::HeartbeatRequest unlistable = heartbeat("leaf-a", 1, 100);
  unlistable.advertised = {Endpoint::v4(0, 0, 0, 0, 3479)};
  proto::HeartbeatRequest listable = heartbeat("leaf-b", 1, 500);
  listable.advertised = {kStaticB};
  REQUIRE(r.on_heartbeat(kT0, kStaticA, unlistable) == Admit::kAccepted);
  REQUIRE(r.on_heartbeat(kT0, kStaticB, listable) == Admit::kAccepted);
  ServerConfig config = testing::node_config("branch", addr(1, 1), {});
  config.load.static_permille = 50;  // The branch's own load: not part of LOAD.
  const BuiltSnapshot built = build_snapshot(config, 50, false, r);
  REQUIRE(built.snapshot.children.size() == 1);
  CHECK(built.snapshot.children[0].name == "leaf-b");
  CHECK(built.snapshot.load.load_permille == 500);
  // The summary for the parents still counts every live leaf.
  CHECK(built.subtree.live_leaves == 2);
  CHECK(built.subtree.best_load_permille == 100);
}

// A branch's listing in the snapshot: usable entries only, each child's IPv4 ones first, so
// a reply picks the client's family as one run; none without a key (the registry drops it).
TEST_CASE("a child's listing reaches the snapshot, IPv4 first, unusable entries dropped") {
  const std::array<uint8_t, 16> v6_ip{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
  const proto::ChildEntry v6{Endpoint::v6(v6_ip, 3478), true, 10, 1};
  const proto::ChildEntry first{Endpoint::v4(10, 9, 0, 1, 3478), true, 20, 1};
  const proto::ChildEntry second{Endpoint::v4(10, 9, 0, 2, 3478), true, 30, 1};
  const proto::ChildEntry wildcard{Endpoint::v4(0, 0, 0, 0, 3478), true, 0, 1};
  const proto::ChildEntry no_port{Endpoint::v4(10, 9, 0, 3, 0), true, 0, 1};
  for (const bool keyed : {true, false}) {
    CAPTURE(keyed);
    RegistryPolicy policy;
    policy.authenticated = keyed;
    ChildRegistry r(policy, two_static(), log_events());
    proto::HeartbeatRequest branch = heartbeat("leaf-a", 1, 100);
    branch.advertised = {kStaticA};
    branch.subtree = {2, 100, 1};
    branch.listing = {v6, first, wildcard, second, no_port};
    REQUIRE(r.on_heartbeat(kT0, kStaticA, branch) == Admit::kAccepted);
    const BuiltSnapshot built =
        build_snapshot(testing::node_config("root", addr(1, 1), {}), 0, false, r);
    REQUIRE(built.snapshot.children.size() == 1);
    const SnapshotChild& child = built.snapshot.children[0];
    if (!keyed) {
      CHECK(child.grand_count == 0);
      CHECK(built.snapshot.grandchildren.empty());
      continue;
    }
    CHECK(child.grand_count == 3);
    CHECK(child.grand_v4 == 2);
    CHECK(built.snapshot.grandchildren == std::vector<proto::ChildEntry>{first, second, v6});
  }
}

}  // namespace
}  // namespace turnscout::server
