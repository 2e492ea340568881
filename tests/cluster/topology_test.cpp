// Topology files: what a good file loads to, and the exact FILE:LINE:COL lines of broken ones.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "base/endpoint.hpp"
#include "tools/cluster/topology.hpp"

namespace turnscout::cluster {
namespace {

std::vector<std::string> errors_of(const std::string& text) {
  auto topology = parse_topology(text, "t.yaml");
  REQUIRE_FALSE(topology.ok());
  return topology.error();
}

const TopologyNode& node(const Topology& t, std::string_view name) {
  auto index = t.find(name);
  REQUIRE(index.has_value());
  return t.nodes[*index];
}

TEST_CASE("the demo topology loads: a root, four regions, ten leaves") {
  auto t = load_topology_file(TURNSCOUT_SOURCE_DIR "/configs/demo.yaml");
  REQUIRE_MESSAGE(t.ok(), (t ? "" : t.error().front()));
  CHECK(t->nodes.size() == 15);
  CHECK(t->defaults.heartbeat == 200ms);
  CHECK(t->defaults.missed == 3);
  const TopologyNode& root = node(*t, "global");
  CHECK(root.depth == 0);
  CHECK(root.parents.empty());
  CHECK(root.children.size() == 4);
  const TopologyNode& leaf = node(*t, "eu-west-1");
  CHECK(leaf.depth == 2);
  CHECK(leaf.link.delay == 15ms);  // Inherited from eu-west.
  CHECK(leaf.link.jitter == 1ms);
  CHECK(leaf.load_permille == 350);
  CHECK(leaf.listing.overload_permille == 900);
  CHECK(leaf.services ==
        std::vector<std::string>{"turn:${proxy}?transport=udp", "turn:${proxy}?transport=tcp"});
  CHECK(node(*t, "eu-west-3").state == NodeState::kDraining);
  CHECK(node(*t, "us-east-1").load_permille == 950);
  CHECK(node(*t, "ap-south").link.loss == doctest::Approx(0.01));
  CHECK(t->node_base == Endpoint::v4(127, 1, 0, 1, 0));
  CHECK(t->proxy_base == Endpoint::v4(127, 2, 0, 1, 0));
}

TEST_CASE("also_parents adds redundant parents; nodes come depth-first") {
  auto t = parse_topology(R"(defaults: {heartbeat: 50ms, link: {delay: 1ms}}
roots:
  - name: r
    children:
      - name: a
        link: {delay: 5ms}
        children:
          - {name: a1, services: ["stun:127.0.0.1:3478"]}
      - name: b
        children:
          - {name: b1, also_parents: [a], services: ["turn:${proxy}?transport=udp"]}
)",
                          "t.yaml");
  REQUIRE_MESSAGE(t.ok(), (t ? "" : t.error().front()));
  REQUIRE(t->nodes.size() == 5);
  CHECK(t->nodes[0].name == "r");
  CHECK(t->nodes[1].name == "a");
  CHECK(t->nodes[2].name == "a1");
  const TopologyNode& b1 = node(*t, "b1");
  REQUIRE(b1.parents.size() == 2);
  CHECK(t->nodes[b1.parents[0]].name == "b");
  CHECK(t->nodes[b1.parents[1]].name == "a");
  CHECK(node(*t, "a").children.size() == 2);
  CHECK(node(*t, "a1").link.delay == 5ms);
  CHECK(b1.link.delay == 1ms);  // From defaults, through r and b.
}

using Lines = std::vector<std::string>;

TEST_CASE("broken topologies: every error with its position") {
  SUBCASE("values out of range, and a leaf with nothing to offer") {
    CHECK(errors_of("roots:\n  - name: r\n    children:\n      - {name: x, load: 11}\n") ==
          Lines{"t.yaml:4:16: roots[0].children[0].name: \"x\" has neither children nor "
                "services: clients would find nothing there",
                "t.yaml:4:25: roots[0].children[0].load: expected a number from 0 to 10, got "
                "\"11\""});
  }
  SUBCASE("an unknown key") {
    CHECK(
        errors_of("roots:\n  - name: r\n    lod: 1\n    services: [\"stun:127.0.0.1\"]\n") ==
        Lines{"t.yaml:3:5: unknown key \"lod\" in \"roots[0]\" (expected one of: also_parents, "
              "children, grandchildren, link, load, max_children, name, overload, services, state, "
              "strategy, weight)"});
  }
  SUBCASE("a name used twice") {
    CHECK(errors_of("roots:\n  - {name: r, services: [\"stun:a\"]}\n"
                    "  - {name: r, services: [\"stun:b\"]}\n") ==
          Lines{"t.yaml:3:12: roots[1].name: node \"r\" is already defined at line 2"});
  }
  SUBCASE("also_parents that are unknown or already parents") {
    CHECK(
        errors_of("roots:\n  - name: r\n    children:\n"
                  "      - {name: a, also_parents: [nope, r], services: [\"turn:${proxy}\"]}\n") ==
        Lines{"t.yaml:4:34: roots[0].children[0].also_parents[0]: no node is named \"nope\"",
              "t.yaml:4:40: roots[0].children[0].also_parents[1]: \"r\" is already a parent "
              "of \"a\""});
  }
  SUBCASE("an also_parent that is not above the node") {
    CHECK(errors_of("roots:\n  - name: r\n    children:\n"
                    "      - {name: a, services: [\"stun:a\"]}\n"
                    "      - {name: b, also_parents: [a], services: [\"stun:b\"]}\n") ==
          Lines{"t.yaml:5:34: roots[0].children[1].also_parents[0]: \"a\" (depth 1) must be "
                "above \"b\" (depth 1)"});
  }
  SUBCASE("a root with parents, a bad service, state and link") {
    CHECK(errors_of("roots:\n  - {name: r, also_parents: [x], services: "
                    "[\"turn:${proxy}?transport=sctp\"], state: gone, "
                    "link: {delay: -1ms, loss: 2}}\n") ==
          Lines{"t.yaml:2:12: roots[0].name: \"r\" has neither children nor services: clients "
                "would find nothing there",
                "t.yaml:2:30: roots[0].also_parents[0]: a root (a top-level node) has no parents",
                "t.yaml:2:45: roots[0].services[0]: expected a URI like "
                "turn:198.51.100.21:3478?transport=udp or turn:${proxy}, got "
                "\"turn:${proxy}?transport=sctp\"",
                "t.yaml:2:85: roots[0].state: unknown value \"gone\" (expected one of: active, "
                "draining)",
                "t.yaml:2:105: roots[0].link.delay: expected a non-negative duration, got "
                "\"-1ms\"",
                "t.yaml:2:117: roots[0].link.loss: expected a number from 0 to 1, got \"2\""});
  }
  SUBCASE("defaults and addresses") {
    CHECK(errors_of("defaults: {heartbeat: 1ms, strategy: fastest, missed: 1}\n"
                    "addresses: {nodes: \"10.0.0.1:0\", proxies: \"127.0.0.1\"}\nroots: []\n") ==
          Lines{"t.yaml:1:23: defaults.heartbeat: expected a duration from 20ms to 1m, got "
                "\"1ms\"",
                "t.yaml:1:38: defaults.strategy: unknown value \"fastest\" (expected one of: "
                "all, round-robin, weighted, least-load, random, two-choice, ip-hash)",
                "t.yaml:1:55: defaults.missed: expected an integer from 2 to 100, got \"1\"",
                "t.yaml:2:20: addresses.nodes: expected a loopback address with a port: "
                "\"127.1.0.1:0\" (one address per node, counting up; port 0: any) or "
                "\"[::1]:0\" (every node on it, each on a port of its own)",
                "t.yaml:2:43: addresses.proxies: expected a port, like 192.0.2.1:3478, got "
                "\"127.0.0.1\"",
                "t.yaml:3:8: roots: expected at least one node"});
    const auto v6 = parse_topology(
        "addresses: {nodes: \"[::1]:0\", proxies: \"[::1]:0\"}\n"
        "roots: [{name: r, services: [\"turn:${proxy}\"]}]\n",
        "t.yaml");
    REQUIRE(v6.ok());
    CHECK(v6->node_base == *parse_endpoint("[::1]:0"));
    CHECK(v6->proxy_base == v6->node_base);
    // Every node shares ::1, so a fixed port would be taken twice.
    CHECK(errors_of("addresses: {nodes: \"[::1]:5000\"}\nroots: [{name: r, services: "
                    "[\"turn:${proxy}\"]}]\n")
              .size() == 1);
  }
  SUBCASE("not YAML, and no roots") {
    CHECK(errors_of("roots:\n  - name: r\n    children: [\n") ==
          Lines{"t.yaml:4:1: end of sequence flow not found"});
    CHECK(errors_of("defaults: {}\n") == Lines{"t.yaml:1:1: missing key \"roots\" at top level"});
  }
  SUBCASE("a file that cannot be read") {
    auto t = load_topology_file("/nonexistent/topology.yaml");
    REQUIRE_FALSE(t.ok());
    REQUIRE(t.error().size() == 1);
    CHECK(t.error()[0].starts_with("/nonexistent/topology.yaml: cannot read"));
  }
}

TEST_CASE("expected live leaves: services count once, draining children not at all") {
  auto t = parse_topology(R"(roots:
  - name: root
    children:
      - name: a
        children:
          - {name: a1, services: ["turn:${proxy}"]}
          - {name: a2, state: draining, services: ["turn:${proxy}"]}
          - {name: a3, also_parents: [b, root], services: ["turn:${proxy}"]}
      - name: b
        services: ["turn:${proxy}"]
        children:
          - {name: b1, services: ["turn:${proxy}"]}
)",
                          "t.yaml");
  REQUIRE_MESSAGE(t.ok(), (t ? "" : t.error().front()));
  const std::vector<uint32_t> leaves = expected_live_leaves(*t);
  REQUIRE(leaves.size() == t->nodes.size());
  auto of = [&](std::string_view name) { return leaves[*t->find(name)]; };
  CHECK(of("a1") == 1);
  CHECK(of("a2") == 1);    // Its own count; its parent no longer adds it.
  CHECK(of("a") == 2);     // a1 and a3.
  CHECK(of("b") == 3);     // Itself (it has services), b1, and a3 (defined before b).
  CHECK(of("root") == 6);  // a's 2, b's 3, and a3 once more as a direct child.
}

TEST_CASE("addresses are handed out in order, skipping .0 and .255") {
  const Endpoint base = Endpoint::v4(127, 1, 0, 1, 0);
  CHECK(nth_address(base, 0) == base);
  CHECK(nth_address(base, 253) == Endpoint::v4(127, 1, 0, 254, 0));
  CHECK(nth_address(base, 254) == Endpoint::v4(127, 1, 1, 1, 0));
  CHECK(nth_address(base, 1020) == Endpoint::v4(127, 1, 4, 5, 0));
  CHECK_FALSE(nth_address(Endpoint::v4(255, 255, 255, 254, 0), 1).has_value());
  // IPv6 has one loopback address: every node on it, each on a port of its own.
  const Endpoint v6_loopback = *parse_endpoint("[::1]:0");
  CHECK(nth_address(v6_loopback, 7) == v6_loopback);
  CHECK_FALSE(nth_address(*parse_endpoint("[2001:db8::1]:0"), 0).has_value());
  CHECK(expand_service("turn:${proxy}?transport=udp", *parse_endpoint("[::1]:5"), v6_loopback) ==
        "turn:[::1]:5?transport=udp");
  CHECK(expand_service("turn:${proxy}?transport=udp", Endpoint::v4(127, 2, 0, 1, 5),
                       Endpoint::v4(127, 1, 0, 1, 6)) == "turn:127.2.0.1:5?transport=udp");
  CHECK(expand_service("stun:${node}", Endpoint::v4(127, 2, 0, 1, 5),
                       Endpoint::v4(127, 1, 0, 1, 6)) == "stun:127.1.0.1:6");
}

}  // namespace
}  // namespace turnscout::cluster
