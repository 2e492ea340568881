// Scenarios on the simulated network: a whole tree of ServerCore nodes converging, losing
// and regaining nodes, leaving, reloading, and answering probes.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "common/format.hpp"
#include "common/logging.hpp"
#include "tests/server/cluster_fixture.hpp"

namespace turnscout::server {
namespace {

using namespace testing;

TEST_CASE("a 3-level tree converges within one heartbeat interval plus a delay") {
  LogCapture log;
  Cluster c;
  build_tree(c);
  REQUIRE(c.net.run_until([&] { return converged(c); }, kStart + 5s));
  // Children are alive at kStart + 10 ms; regions report live leaves from their second
  // heartbeat on, which reaches the root at kStart + 1 s + 10 ms.
  CHECK(c.net.now() == kStart + 1s + kDelay);
  CHECK(c.listed("root") == std::vector<std::string>{"r1", "r2"});
  CHECK(c.listed("r1") == std::vector<std::string>{"l11", "l12", "l13"});
  CHECK(c["root"].subtree().live_leaves == 5);
  CHECK(c["root"].subtree().height == 2);
  CHECK(c["root"].snapshot()->load.load_permille == 150);  // l21: the best of the tree.
  CHECK(c["r1"].snapshot()->load.load_permille == 200);
  const auto& regions = c["root"].snapshot()->children;
  CHECK_FALSE(regions[0].leaf);
  CHECK(regions[0].load_permille == 200);
  CHECK(regions[1].load_permille == 150);
  CHECK(c["r1"].snapshot()->children[0].leaf);
  for (const auto& [name, core] : c.cores) {
    for (const ParentStatus& p : core->parents()) {
      CHECK(p.up);
      CHECK(p.last_rtt == 2 * kDelay);
    }
  }
  CHECK(c.net.errors().empty());
}

TEST_CASE("delay jitter under half an interval never makes a child suspect") {
  LogCapture log;
  Cluster c(7);
  c.net.set_default_link({.delay = 20ms, .jitter = 200ms});
  build_tree(c);
  c.net.run_for(60s);
  CHECK(converged(c));
  CHECK(log.count("suspect") == 0);
  CHECK(log.count("silent") == 0);
}

TEST_CASE("with 10% loss each way children may turn suspect but come back; the tree holds") {
  LogCapture log;
  Cluster c(11);
  c.net.set_default_link({.delay = 20ms, .jitter = 5ms, .loss = 0.1});
  build_tree(c);
  c.net.run_for(120s);
  // Every child that went suspect was heard from again (directly, or after being dead).
  const size_t suspects = log.count(" suspect (no heartbeat");
  CHECK(suspects > 0);
  CHECK(suspects == log.count("alive again (was suspect)") + log.count("alive again (was dead)"));
  c.net.set_default_link({.delay = 20ms});
  c.net.run_for(3s);
  CHECK(converged(c));
  CHECK(c["root"].subtree().live_leaves == 5);
}

TEST_CASE("snapshots stay put while nothing visible changes") {
  Cluster c;
  build_tree(c);
  c.net.run_for(3s);
  const uint64_t root_version = c["root"].snapshot()->version;
  const uint64_t r1_version = c["r1"].snapshot()->version;
  LogCapture log;
  c.net.run_for(30s);
  CHECK(c["root"].snapshot()->version == root_version);
  CHECK(c["r1"].snapshot()->version == r1_version);
  CHECK(log.records().empty());  // Nothing to say at steady state.
}

TEST_CASE("a leaf that stops goes suspect after 1.5 intervals, dead after 3, and comes back") {
  LogCapture log;
  Cluster c;
  build_tree(c);
  c.net.run_until(kStart + 5500ms);
  // l11's last heartbeat left at kStart + 5 s and arrived 10 ms later.
  c.net.set_node_down(c.id("l11"), true);
  REQUIRE(c.net.run_until([&] { return c.liveness_is("r1", "l11", ChildLiveness::kSuspect); },
                          kStart + 20s));
  CHECK(c.net.now() == kStart + 5s + kDelay + 1500ms);
  CHECK(c.listed("r1") == std::vector<std::string>{"l11", "l12", "l13"});  // Suspect: listed.
  REQUIRE(c.net.run_until([&] { return c.liveness_is("r1", "l11", ChildLiveness::kDead); },
                          kStart + 20s));
  CHECK(c.net.now() == kStart + 5s + kDelay + 3000ms);
  CHECK(c.listed("r1") == std::vector<std::string>{"l12", "l13"});
  CHECK(log.count("child l11 suspect (no heartbeat for 1.5s)") == 1);
  CHECK(log.count("child l11 dead (no heartbeat for 3s)") == 1);
  CHECK(c["root"].subtree().live_leaves == 5);  // Not yet: r1 reports on its next heartbeat.
  c.net.run_for(1s);
  CHECK(c["root"].subtree().live_leaves == 4);

  c.net.run_until(kStart + 10200ms);
  c.net.set_node_down(c.id("l11"), false);  // Its overdue heartbeat goes out at once.
  REQUIRE(c.net.run_until([&] { return c.liveness_is("r1", "l11", ChildLiveness::kAlive); },
                          kStart + 20s));
  CHECK(c.net.now() == kStart + 10200ms + kDelay);
  CHECK(c.listed("r1") == std::vector<std::string>{"l11", "l12", "l13"});
  CHECK(log.count("child l11 alive again (was dead)") == 1);
  c.net.run_for(2s);
  CHECK(c["root"].subtree().live_leaves == 5);
  CHECK(c.net.errors().empty());
}

// The addresses `parent` passes on (GRANDCHILD) under its child `child`, in order.
std::vector<Endpoint> grandchildren(Cluster& c, const std::string& parent,
                                    const std::string& child) {
  const Snapshot& s = *c[parent].snapshot();
  std::vector<Endpoint> out;
  for (const SnapshotChild& sc : s.children) {
    if (sc.name != child) continue;
    for (uint32_t i = sc.grand_first; i < sc.grand_first + sc.grand_count; ++i)
      out.push_back(s.grandchildren[i].address);
  }
  return out;
}

// Listings travel only in signed heartbeats (a key, static children).
TreeOptions keyed() {
  TreeOptions o;
  o.key = "tree scenario key";
  return o;
}

TEST_CASE("a branch's listing reaches its parent in heartbeats and ages out with it") {
  LogCapture log;
  Cluster c;
  build_tree(c, keyed());
  c.net.run_for(3s);
  // Least-load order: l12 (200), l13 (300), l11 (500); l21 (150), l22 (400).
  CHECK(grandchildren(c, "root", "r1") == std::vector<Endpoint>{kL12, kL13, kL11});
  CHECK(grandchildren(c, "root", "r2") == std::vector<Endpoint>{kL21, kL22});
  CHECK(c["r1"].snapshot()->grandchildren.empty());  // Its children are leaves.
  // A leaf that dies leaves r1's listing, and with r1's next heartbeat the root's.
  c.net.set_node_down(c.id("l11"), true);
  c.net.run_for(5s);
  CHECK(grandchildren(c, "root", "r1") == std::vector<Endpoint>{kL12, kL13});
  // A branch that dies takes its listing with it.
  c.net.set_node_down(c.id("r1"), true);
  c.net.run_for(4s);
  CHECK(c.listed("root") == std::vector<std::string>{"r2"});
  CHECK(c["root"].snapshot()->grandchildren.size() == 2);
}

TEST_CASE("without a key a child's listing is not passed on: it could name anyone") {
  LogCapture log;
  Cluster c;
  build_tree(c);
  c.net.run_for(3s);
  CHECK(c.listed("root") == std::vector<std::string>{"r1", "r2"});
  CHECK(c["root"].snapshot()->grandchildren.empty());
  const auto r1 = c.child("root", "r1");
  REQUIRE(r1.has_value());
  CHECK(r1->listing.empty());
}

TEST_CASE("listing.grandchildren false: no listing sent up, none passed on") {
  LogCapture log;
  Cluster c;
  build_tree(c, keyed());
  c.net.run_for(3s);
  ServerConfig quiet = c["r1"].config();
  quiet.listing.grandchildren = false;
  REQUIRE(c["r1"].reload(c.net.now(), quiet).ok());
  c.net.run_for(2s);
  CHECK(grandchildren(c, "root", "r1").empty());
  CHECK(grandchildren(c, "root", "r2").size() == 2);
  ServerConfig root = c["root"].config();
  root.listing.grandchildren = false;
  REQUIRE(c["root"].reload(c.net.now(), root).ok());
  CHECK(c["root"].snapshot()->grandchildren.empty());
  CHECK(c.listed("root") == std::vector<std::string>{"r1", "r2"});
}

TEST_CASE("Leave drops a child at once; the leaving node answers with the draining flag") {
  LogCapture log;
  Cluster c;
  build_tree(c);
  c.net.run_until(kStart + 3s);
  REQUIRE(c.probe(kL12).has_value());

  const TimePoint t = c.net.now();
  c["l12"].start_drain(t);
  c.net.kick(c.id("l12"));
  CHECK_FALSE(c["l12"].drained());
  CHECK(c["l12"].snapshot()->draining);
  REQUIRE(
      c.net.run_until([&] { return c.liveness_is("r1", "l12", ChildLiveness::kLeft); }, t + 1s));
  CHECK(c.net.now() == t + kDelay);
  CHECK(c.listed("r1") == std::vector<std::string>{"l11", "l13"});
  REQUIRE(c.net.run_until([&] { return c["l12"].drained(); }, t + 2s));
  CHECK(c.net.now() == t + 2 * kDelay);
  CHECK(log.count("child l12 left") == 1);
  CHECK(log.count("parent 10.0.1.1:3479 acknowledged our Leave") == 1);

  // Until it exits, a client that still probes it hears that it is going.
  const auto reply = c.probe(kL12);
  REQUIRE(reply.has_value());
  CHECK(reply->response.reply_flags == proto::reply_flag::kDraining);
  // No more heartbeats: the child stays left, never turns dead.
  c.net.run_for(10s);
  CHECK(c.liveness_is("r1", "l12", ChildLiveness::kLeft));
  CHECK(log.count("child l12 dead") == 0);
}

TEST_CASE("a draining node whose parent is gone is drained after 1.5 s") {
  Cluster c;
  build_tree(c);
  c.net.run_until(kStart + 3s);
  c.net.set_node_down(c.id("r1"), true);
  const TimePoint t = c.net.now();
  c["l13"].start_drain(t);
  c.net.kick(c.id("l13"));
  REQUIRE(c.net.run_until([&] { return c["l13"].drained(); }, t + 5s));
  CHECK(c.net.now() == t + 1500ms);
}

TEST_CASE("a child with two parents is listed by both and survives one parent's death") {
  LogCapture log;
  Cluster c;
  const Endpoint pa = addr(1, 1), pb = addr(2, 1), m = addr(3, 1);
  c.add(node_config("pa", pa, {}, {{"m", m, 1}}));
  c.add(node_config("pb", pb, {}, {{"m", m, 1}}));
  c.add(leaf_config("m", m, {pa, pb}, 100));
  c.net.run_until(kStart + 3500ms);
  CHECK(c.listed("pa") == std::vector<std::string>{"m"});
  CHECK(c.listed("pb") == std::vector<std::string>{"m"});
  CHECK(c["m"].parents().size() == 2);

  c.net.set_node_down(c.id("pa"), true);
  // Heartbeats at 4, 5 and 6 s go unanswered; the one at 7 s finds three missing.
  REQUIRE(
      c.net.run_until([&] { return log.contains("parent 10.0.1.1:3479 silent"); }, kStart + 20s));
  CHECK(c.net.now() == kStart + 7s);
  CHECK_FALSE(c["m"].parents()[0].up);
  CHECK(c["m"].parents()[1].up);
  CHECK(c.liveness_is("pb", "m", ChildLiveness::kAlive));
  CHECK(c.listed("pb") == std::vector<std::string>{"m"});

  c.net.run_until(kStart + 10500ms);
  c.net.set_node_down(c.id("pa"), false);  // Its overdue deadlines fire: m is dead there...
  c.net.run_for(1us);
  CHECK(c.liveness_is("pa", "m", ChildLiveness::kDead));
  // ...until m's next heartbeat (at 11 s) re-admits it, and its answer tells m pa is back.
  REQUIRE(c.net.run_until([&] { return log.contains("parent 10.0.1.1:3479 back"); }, kStart + 20s));
  CHECK(c.net.now() == kStart + 11s + 2 * kDelay);
  CHECK(c.liveness_is("pa", "m", ChildLiveness::kAlive));
  CHECK(c.listed("pa") == std::vector<std::string>{"m"});
  CHECK(log.count("silent") == 1);
  CHECK(log.count("back") == 1);
  CHECK(c.net.errors().empty());
}

TEST_CASE("reload keeps children and their state; new static children appear, removed vanish") {
  LogCapture log;
  Cluster c;
  build_tree(c);
  const Endpoint l14 = addr(1, 14);
  c.add(leaf_config("l14", l14, {kR1}, 50));  // Not r1's child yet: refused.
  c.net.run_until(kStart + 3s);
  CHECK_FALSE(c.child("r1", "l14").has_value());
  // A parent answers only its own children: to anyone else, an error would be reflection.
  CHECK_FALSE(log.contains("rejects our heartbeats"));
  const auto l11_before = c.child("r1", "l11");
  REQUIRE(l11_before.has_value());

  ServerConfig next = c["r1"].config();
  next.children = {{"l11", kL11, 1}, {"l12", kL12, 1}, {"l14", l14, 1}};
  const TimePoint t = c.net.now() + 500ms;
  c.net.run_until(t);
  REQUIRE(c["r1"].reload(t, next));
  c.net.kick(c.id("r1"));
  CHECK(log.contains("config reloaded: 3 static children, 1 parents"));
  const auto l11_after = c.child("r1", "l11");
  REQUIRE(l11_after.has_value());
  CHECK(l11_after->liveness == ChildLiveness::kAlive);
  CHECK(l11_after->last_heard == l11_before->last_heard + 1s);  // Heard at 3 s, not reset.
  CHECK_FALSE(c.child("r1", "l13").has_value());
  CHECK(c.listed("r1") == std::vector<std::string>{"l11", "l12"});
  REQUIRE(c.child("r1", "l14").has_value());
  CHECK_FALSE(c.child("r1", "l14")->heard);
  REQUIRE(
      c.net.run_until([&] { return c.liveness_is("r1", "l14", ChildLiveness::kAlive); }, t + 2s));
  CHECK(c.net.now() == kStart + 4s + kDelay);  // l14's next heartbeat.
  CHECK(c.listed("r1") == std::vector<std::string>{"l11", "l12", "l14"});
  c.net.run_for(2s);
  CHECK(c["r1"].snapshot()->load.load_permille == 50);
  CHECK(c["root"].snapshot()->load.load_permille == 50);

  // A bad config is refused, logged, and the old one stays.
  ServerConfig bad = next;
  bad.cluster.accept_dynamic_children = true;  // Without a key.
  bad.children.clear();
  auto refused = c["r1"].reload(c.net.now(), bad);
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == "accept_dynamic_children needs a cluster key");
  CHECK(log.contains("reload rejected, keeping the current config: accept_dynamic_children"));
  CHECK(c["r1"].config().children.size() == 3);
  CHECK(c.liveness_is("r1", "l14", ChildLiveness::kAlive));
}

TEST_CASE("with a cluster key a tree of dynamic children converges, signed end to end") {
  LogCapture log;
  Cluster c;
  build_tree(c, TreeOptions::signed_dynamic("a cluster key"));
  REQUIRE(c.net.run_until([&] { return converged(c); }, kStart + 5s));
  CHECK(c.net.now() == kStart + 1s + kDelay);
  CHECK(c.child("r1", "l11")->dynamic);
  CHECK_FALSE(log.contains("unauthenticated"));
  for (const auto& [name, core] : c.cores) {
    CHECK(core->control_counters().drops[static_cast<size_t>(DropReason::kAuth)].get() == 0);
  }
}

TEST_CASE("without a key every node warns that heartbeats are unauthenticated") {
  LogCapture log;
  Cluster c;
  c.add(node_config("solo", kRoot, {}));
  CHECK(log.count("no cluster key: heartbeats are unauthenticated") == 1);
  CHECK(log.records()[0].level == spdlog::level::warn);
}

TEST_CASE("a mismatched key: the parent refuses with 401 and the child says so, once") {
  LogCapture log;
  Cluster c;
  auto parent = node_config("p", kR1, {}, {{"l", kL11, 1}});
  parent.cluster.key = "right";
  auto leaf = leaf_config("l", kL11, {kR1}, 100);
  leaf.cluster.key = "wrong";
  c.add(parent);
  c.add(leaf);
  c.net.run_for(5s);
  CHECK_FALSE(c.child("p", "l")->heard);
  CHECK(log.count("parent 10.0.1.1:3479 rejects our heartbeats: 401") == 1);
  // Heartbeats sent at 0..4 s arrived within the 5 s.
  CHECK(c["p"].control_counters().drops[static_cast<size_t>(DropReason::kAuth)].get() == 5);
}

TEST_CASE("own load changes reach the snapshot at once and the parent on the next heartbeat") {
  Cluster c;
  build_tree(c);
  c.net.run_until(kStart + 3s);
  const uint64_t version = c["l12"].snapshot()->version;
  c["l12"].set_own_load(c.net.now(), 950);
  CHECK(c["l12"].snapshot()->version == version + 1);
  CHECK(c["l12"].snapshot()->load.load_permille == 950);
  c["l12"].set_own_load(c.net.now(), 950);
  CHECK(c["l12"].snapshot()->version == version + 1);
  c.net.run_for(1s + kDelay);
  // Over the overload limit (900): no longer listed, still counted below r1.
  CHECK(c.listed("r1") == std::vector<std::string>{"l11", "l13"});
  CHECK(c["r1"].subtree().live_leaves == 3);
  CHECK(c["r1"].snapshot()->load.load_permille == 300);
}

}  // namespace
}  // namespace turnscout::server
