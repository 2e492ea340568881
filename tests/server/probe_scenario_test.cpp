// Probes from a toy client through a simulated tree: which children each strategy lists and
// in what order, a discovery from the root down to a leaf's services, and the rule that a
// reply is never larger than its request.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "server/core/strategy.hpp"
#include "tests/server/cluster_fixture.hpp"

namespace turnscout::server {
namespace {

using namespace testing;

const std::map<Endpoint, std::string> kNames = {
    {kR1, "r1"},   {kR2, "r2"},   {kL11, "l11"}, {kL12, "l12"},
    {kL13, "l13"}, {kL21, "l21"}, {kL22, "l22"},
};

std::vector<std::string> names(const proto::ProbeResponse& r) {
  std::vector<std::string> out;
  for (const proto::ChildEntry& e : r.children)
    out.push_back(kNames.at(e.address));
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// What rendezvous hashing gives this client: highest score first.
std::vector<std::string> ip_hash_order(std::vector<std::string> children) {
  const uint64_t client = client_ip_hash(kClient);
  std::stable_sort(children.begin(), children.end(), [&](const auto& a, const auto& b) {
    return rendezvous_score(client, child_id_hash(a)) > rendezvous_score(client, child_id_hash(b));
  });
  return children;
}

std::vector<std::string> rotated(std::vector<std::string> v) {
  std::rotate(v.begin(), v.begin() + 1, v.end());
  return v;
}

struct Probed {
  std::vector<std::string> root;
  std::vector<std::string> r1;
  std::vector<std::string> r1_again;
};

Probed probe_tree(Strategy strategy) {
  Cluster c;
  build_tree(c, TreeOptions::with_strategy(strategy));
  c.net.run_until(kStart + 2s);
  Probed p;
  auto root = c.probe(kRoot);
  auto r1 = c.probe(kR1);
  auto r1_again = c.probe(kR1);
  REQUIRE(root.has_value());
  REQUIRE(r1.has_value());
  REQUIRE(r1_again.has_value());
  CHECK(root->response.node_name == "root");
  CHECK(root->response.reflexive == kClient);
  CHECK(root->response.services.empty());
  for (const auto& e : root->response.children)
    CHECK_FALSE(e.leaf);
  for (const auto& e : r1->response.children)
    CHECK(e.leaf);
  p.root = names(root->response);
  p.r1 = names(r1->response);
  p.r1_again = names(r1_again->response);
  return p;
}

TEST_CASE("each strategy lists the right children in the right order") {
  const std::vector<std::string> regions = {"r1", "r2"};
  const std::vector<std::string> leaves = {"l11", "l12", "l13"};

  SUBCASE("all: snapshot order (by name)") {
    const Probed p = probe_tree(Strategy::kAll);
    CHECK(p.root == regions);
    CHECK(p.r1 == leaves);
    CHECK(p.r1_again == leaves);
  }
  SUBCASE("least-load: by the best load of each subtree") {
    const Probed p = probe_tree(Strategy::kLeastLoad);
    CHECK(p.root == std::vector<std::string>{"r2", "r1"});  // 150 < 200.
    CHECK(p.r1 == std::vector<std::string>{"l12", "l13", "l11"});
  }
  SUBCASE("round-robin: one position further on every reply") {
    const Probed p = probe_tree(Strategy::kRoundRobin);
    CHECK(sorted(p.r1) == leaves);
    CHECK(p.r1_again == rotated(p.r1));
  }
  SUBCASE("ip-hash: rendezvous order for this client, the same every time") {
    const Probed p = probe_tree(Strategy::kIpHash);
    CHECK(p.root == ip_hash_order(regions));
    CHECK(p.r1 == ip_hash_order(leaves));
    CHECK(p.r1_again == p.r1);
  }
  SUBCASE("random, weighted, two-choice: every child, in some order") {
    for (const Strategy s : {Strategy::kRandom, Strategy::kWeighted, Strategy::kTwoChoice}) {
      CAPTURE(static_cast<int>(s));
      const Probed p = probe_tree(s);
      CHECK(sorted(p.root) == regions);
      CHECK(sorted(p.r1) == leaves);
      CHECK(sorted(p.r1_again) == leaves);
    }
  }
}

TEST_CASE("a discovery walks from the root to a leaf's services by least load") {
  Cluster c;
  build_tree(c);
  c.net.run_until(kStart + 2s);
  Endpoint next = kRoot;
  std::vector<std::string> path;
  std::vector<std::string> services;
  for (int level = 0; level < 4; ++level) {
    auto reply = c.probe(next);
    REQUIRE(reply.has_value());
    path.push_back(reply->response.node_name);
    if (!reply->response.services.empty()) {
      services = reply->response.services;
      break;
    }
    REQUIRE_FALSE(reply->response.children.empty());
    next = reply->response.children.front().address;
  }
  CHECK(path == std::vector<std::string>{"root", "r2", "l21"});
  CHECK(services == std::vector<std::string>{"turn:l21.example.org:3478?transport=udp"});
  CHECK(c.net.errors().empty());
}

TEST_CASE("overloaded children are left out; so is a region whose best leaf is overloaded") {
  Cluster c;
  build_tree(c);
  c["l21"].set_own_load(c.net.now(), 950);
  c["l22"].set_own_load(c.net.now(), 920);
  c.net.run_until(kStart + 3s);
  auto r2 = c.probe(kR2);
  REQUIRE(r2.has_value());
  CHECK(r2->response.children.empty());
  CHECK(r2->response.load.load_permille == 920);
  auto root = c.probe(kRoot);
  REQUIRE(root.has_value());
  CHECK(names(root->response) == std::vector<std::string>{"r1"});
}

TEST_CASE("replies are never larger than the request; cut lists are marked truncated") {
  Cluster c;
  build_tree(c, TreeOptions::with_strategy(Strategy::kAll));
  c.net.run_until(kStart + 2s);
  size_t answered = 0;
  size_t truncated = 0;
  size_t unanswered = 0;
  for (size_t pad = 0; pad <= 200; pad += 4) {
    auto reply = c.probe(kR1, pad);
    if (!reply) {
      ++unanswered;
      continue;
    }
    ++answered;
    CHECK(reply->size <= reply->request_size);
    const bool cut = reply->response.children.size() < 3;
    CHECK(((reply->response.reply_flags & proto::reply_flag::kTruncated) != 0) == cut);
    if (cut) {
      ++truncated;
      // The strategy's order is kept: a prefix of the full list.
      const std::vector<std::string> full = {"l11", "l12", "l13"};
      const auto got = names(reply->response);
      CHECK(std::equal(got.begin(), got.end(), full.begin()));
    }
  }
  CHECK(answered > 0);
  CHECK(truncated > 0);
  CHECK(unanswered > 0);  // Requests too small for even an empty reply get silence.
  const auto& drops = c["r1"].responder().counters().drops;
  CHECK(drops[static_cast<size_t>(DropReason::kAmplification)].get() == unanswered);
}

}  // namespace
}  // namespace turnscout::server
