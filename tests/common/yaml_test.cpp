#include "common/yaml.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "base/endpoint.hpp"
#include "common/format.hpp"

namespace turnscout {
namespace {

using Errors = std::vector<std::string>;

// Loads `text` as "root.yaml", runs `read` on the top-level map, and returns every error.
Errors errors_of(std::string_view text, const std::function<void(ConfigMap&)>& read) {
  auto doc = YamlDocument::load_string(text, "root.yaml");
  REQUIRE(doc.ok());
  ConfigReader reader(*doc);
  ConfigMap root = reader.root().map();
  read(root);
  return reader.finish();
}

enum class Strategy { kRoundRobin, kLeastLoad, kRandom };

struct Child {
  Endpoint address;
  uint32_t weight = 1;
};

struct Cluster {
  std::string name;
  Duration heartbeat = 1s;
  uint16_t port = 3478;
  bool enabled = false;
  double weight = 1.0;
  Endpoint listen;
  Strategy strategy = Strategy::kRoundRobin;
  std::optional<std::string> key;
  std::vector<Child> children;
};

// The way a config loader is meant to read a section.
void read_cluster(ConfigMap& root, Cluster& c) {
  ConfigMap cluster = root.map("cluster");
  cluster.required("name", c.name);
  cluster.optional("heartbeat", c.heartbeat, 100ms, 1min);
  cluster.optional("port", c.port, 1, 65535);
  cluster.optional("enabled", c.enabled);
  cluster.optional("weight", c.weight, 0, 1);
  cluster.optional("listen", c.listen, 3478);
  cluster.optional_one_of("strategy", c.strategy,
                          {{"round-robin", Strategy::kRoundRobin},
                           {"least-load", Strategy::kLeastLoad},
                           {"random", Strategy::kRandom}});
  cluster.optional("key", c.key);
  for (ConfigNode node : cluster.optional_sequence("children")) {
    ConfigMap child = node.map();
    Child out;
    child.required("address", out.address, 3478);
    child.optional("weight", out.weight, 1, 1000);
    c.children.push_back(out);
  }
}

Errors cluster_errors(std::string_view text) {
  Cluster c;
  return errors_of(text, [&c](ConfigMap& root) { read_cluster(root, c); });
}

}  // namespace

TEST_CASE("a valid section reads into the struct with no errors") {
  Cluster c;
  const Errors errors = errors_of(R"(cluster:
  name: eu
  heartbeat: 250ms
  port: 3479
  enabled: true
  weight: 0.5
  listen: "[::1]"
  strategy: least-load
  key: s3cret
  children:
    - address: 192.0.2.1:4000
      weight: 2
    - address: 192.0.2.2
)",
                                  [&c](ConfigMap& root) { read_cluster(root, c); });
  CHECK(errors.empty());
  CHECK(c.name == "eu");
  CHECK(c.heartbeat == 250ms);
  CHECK(c.port == 3479);
  CHECK(c.enabled);
  CHECK(c.weight == 0.5);
  CHECK(to_string(c.listen) == "[::1]:3478");
  CHECK(c.strategy == Strategy::kLeastLoad);
  CHECK(c.key == "s3cret");
  REQUIRE(c.children.size() == 2);
  CHECK(c.children[0].address == Endpoint::v4(192, 0, 2, 1, 4000));
  CHECK(c.children[0].weight == 2);
  CHECK(c.children[1].address == Endpoint::v4(192, 0, 2, 2, 3478));
  CHECK(c.children[1].weight == 1);
}

TEST_CASE("absent optional keys keep their defaults") {
  Cluster c;
  CHECK(
      errors_of("cluster:\n  name: x\n", [&c](ConfigMap& root) { read_cluster(root, c); }).empty());
  CHECK(c.heartbeat == 1s);
  CHECK(c.port == 3478);
  CHECK_FALSE(c.key.has_value());
  CHECK(c.children.empty());
}

TEST_CASE("unknown keys point at the key and list the known ones") {
  CHECK(cluster_errors("cluster:\n  name: eu\n  hearbeat: 2s\n") ==
        Errors{"root.yaml:3:3: unknown key \"hearbeat\" in \"cluster\" (expected one of: "
               "children, enabled, heartbeat, key, listen, name, port, strategy, weight)"});
  CHECK(cluster_errors("cluster:\n  name: eu\nclustr: {}\n") ==
        Errors{"root.yaml:3:1: unknown key \"clustr\" at top level (expected one of: cluster)"});
  CHECK(cluster_errors(R"(cluster:
  name: eu
  children:
    - address: 192.0.2.1
      wieght: 3
)") == Errors{"root.yaml:5:7: unknown key \"wieght\" in \"cluster.children[0]\" "
              "(expected one of: address, weight)"});
}

TEST_CASE("missing required keys point at the parent map") {
  CHECK(cluster_errors("cluster:\n  port: 1\n") ==
        Errors{"root.yaml:2:3: missing key \"name\" in \"cluster\""});
  CHECK(cluster_errors("other: 1\n") ==
        Errors{"root.yaml:1:1: missing key \"cluster\" at top level",
               "root.yaml:1:1: unknown key \"other\" at top level (expected one of: cluster)"});
  CHECK(cluster_errors("") == Errors{"root.yaml:1:1: missing key \"cluster\" at top level"});
  CHECK(cluster_errors("# only a comment\n") ==
        Errors{"root.yaml:1:1: missing key \"cluster\" at top level"});
}

TEST_CASE("wrong node types name what was expected and what was found") {
  CHECK(cluster_errors("cluster: [1, 2]\n") ==
        Errors{"root.yaml:1:10: cluster: expected a map, got a sequence"});
  CHECK(cluster_errors("cluster: eu\n") ==
        Errors{"root.yaml:1:10: cluster: expected a map, got \"eu\""});
  CHECK(cluster_errors("cluster:\n  name: eu\n  children: none\n") ==
        Errors{"root.yaml:3:13: cluster.children: expected a sequence, got \"none\""});
  CHECK(cluster_errors("cluster:\n  name: {a: 1}\n") ==
        Errors{"root.yaml:2:9: cluster.name: expected a string, got a map"});
  CHECK(cluster_errors("cluster:\n  name: eu\n  children:\n    - 192.0.2.1\n") ==
        Errors{"root.yaml:4:7: cluster.children[0]: expected a map, got \"192.0.2.1\""});
  CHECK(errors_of("- 1\n", [](ConfigMap&) {}) ==
        Errors{"root.yaml:1:1: top level: expected a map, got a sequence"});
}

TEST_CASE("empty values point at their key") {
  CHECK(cluster_errors("cluster:\n  name: eu\n  port:\n  enabled: ~\n") ==
        Errors{"root.yaml:3:3: cluster.port: expected an integer from 1 to 65535, got nothing",
               "root.yaml:4:3: cluster.enabled: expected true or false, got nothing"});
  // An empty sequence or map is just empty.
  CHECK(cluster_errors("cluster:\n  name: eu\n  children:\n").empty());
}

TEST_CASE("integers are decimal and within range") {
  const std::string kPort = "cluster.port: expected an integer from 1 to 65535, got ";
  for (const char* bad : {"70000", "0", "-1", "12abc", "3.5", "0x10", "+5", "\"\""}) {
    CAPTURE(bad);
    const std::string got = bad[0] == '"' ? "\"\"" : fmt::format("\"{}\"", bad);
    CHECK(cluster_errors(fmt::format("cluster:\n  name: eu\n  port: {}\n", bad)) ==
          Errors{"root.yaml:3:9: " + kPort + got});
  }
  int8_t small = 0;
  int64_t big = 0;
  uint64_t huge = 0;
  const Errors errors = errors_of(
      "a: -128\nb: 128\nc: -9223372036854775808\nd: 18446744073709551615\n", [&](ConfigMap& root) {
        root.required("a", small);
        root.required("b", small);
        root.required("c", big);
        root.required("d", huge);
      });
  CHECK(errors == Errors{"root.yaml:2:4: b: expected an integer from -128 to 127, got \"128\""});
  CHECK(small == -128);
  CHECK(big == INT64_MIN);
  CHECK(huge == UINT64_MAX);
}

TEST_CASE("booleans are true or false") {
  CHECK(cluster_errors("cluster:\n  name: eu\n  enabled: yes\n") ==
        Errors{"root.yaml:3:12: cluster.enabled: expected true or false, got \"yes\""});
  bool a = false, b = true;
  CHECK(errors_of("a: TRUE\nb: False\n", [&](ConfigMap& root) {
          root.required("a", a);
          root.required("b", b);
        }).empty());
  CHECK(a);
  CHECK_FALSE(b);
}

TEST_CASE("numbers are finite and within range") {
  CHECK(cluster_errors("cluster:\n  name: eu\n  weight: 1.5\n") ==
        Errors{"root.yaml:3:11: cluster.weight: expected a number from 0 to 1, got \"1.5\""});
  CHECK(cluster_errors("cluster:\n  name: eu\n  weight: nan\n") ==
        Errors{"root.yaml:3:11: cluster.weight: expected a number from 0 to 1, got \"nan\""});
  double x = 0, y = 0, z = 0;
  CHECK(errors_of("x: -0.5\ny: inf\nz: 1e3\n",
                  [&](ConfigMap& root) {
                    root.required("x", x, 0.0);
                    root.required("y", y);
                    root.required("z", z, -1.5, 2.5);
                  }) ==
        Errors{"root.yaml:1:4: x: expected a number of at least 0, got \"-0.5\"",
               "root.yaml:2:4: y: expected a number, got \"inf\"",
               "root.yaml:3:4: z: expected a number from -1.5 to 2.5, got \"1e3\""});
}

TEST_CASE("durations use the duration parser and a range") {
  CHECK(cluster_errors("cluster:\n  name: eu\n  heartbeat: abc\n") ==
        Errors{"root.yaml:3:14: cluster.heartbeat: expected a duration like 250ms, 2s or 1m, "
               "got \"abc\""});
  CHECK(cluster_errors("cluster:\n  name: eu\n  heartbeat: -1s\n") ==
        Errors{"root.yaml:3:14: cluster.heartbeat: expected a non-negative duration, got "
               "\"-1s\""});
  CHECK(cluster_errors("cluster:\n  name: eu\n  heartbeat: 1h\n") ==
        Errors{"root.yaml:3:14: cluster.heartbeat: expected a duration from 100ms to 1m, got "
               "\"1h\""});
  Duration a{}, b{};
  CHECK(errors_of("a: 5ms\nb: 0\n", [&](ConfigMap& root) {
          root.required("a", a, 10ms);
          root.required("b", b);
        }) == Errors{"root.yaml:1:4: a: expected a duration of at least 10ms, got \"5ms\""});
  CHECK(b == 0us);
}

TEST_CASE("endpoints use the endpoint parser") {
  CHECK(cluster_errors("cluster:\n  name: eu\n  listen: 192.0.2.300\n") ==
        Errors{"root.yaml:3:11: cluster.listen: expected an address like 192.0.2.1:3478 or "
               "[2001:db8::1]:3478, got \"192.0.2.300\""});
  Endpoint e;
  CHECK(errors_of("a: 2001:db8::1:3478\n", [&](ConfigMap& root) { root.required("a", e); }) ==
        Errors{"root.yaml:1:4: a: expected brackets around an IPv6 address with a port, like "
               "[2001:db8::1]:3478, got \"2001:db8::1:3478\""});
  CHECK(errors_of("a: 1.2.3.4\n", [&](ConfigMap& root) { root.required("a", e); }) ==
        Errors{"root.yaml:1:4: a: expected a port, like 192.0.2.1:3478, got \"1.2.3.4\""});
}

TEST_CASE("enums list their choices in the caller's order") {
  CHECK(cluster_errors("cluster:\n  name: eu\n  strategy: rand\n") ==
        Errors{"root.yaml:3:13: cluster.strategy: unknown value \"rand\" (expected one of: "
               "round-robin, least-load, random)"});
  CHECK(cluster_errors("cluster:\n  name: eu\n  strategy: [random]\n") ==
        Errors{"root.yaml:3:13: cluster.strategy: expected one of: round-robin, least-load, "
               "random, got a sequence"});
  Strategy s = Strategy::kRandom;
  CHECK(errors_of("x: 1\n", [&](ConfigMap& root) {
          root.required_one_of("s", s, {{"random", Strategy::kRandom}});
          root.allow({"x"});
        }) == Errors{"root.yaml:1:1: missing key \"s\" at top level"});
}

TEST_CASE("duplicate and non-string keys are reported") {
  CHECK(cluster_errors("cluster:\n  name: eu\n  port: 1\n  name: us\n") ==
        Errors{"root.yaml:4:3: duplicate key \"name\" in \"cluster\" (first at 2:3)"});
  CHECK(errors_of("? [a, b]\n: 1\n", [](ConfigMap&) {}) ==
        Errors{"root.yaml:1:3: top level: expected a string key, got a sequence"});
}

TEST_CASE("all errors are collected and ordered by position") {
  CHECK(cluster_errors(R"(cluster:
  port: 0
  heartbeat: 5
  children:
    - weight: 0
    - address: 1.2.3.4:99999
  strategy: best
extra: true
)") == Errors{
           "root.yaml:2:3: missing key \"name\" in \"cluster\"",
           "root.yaml:2:9: cluster.port: expected an integer from 1 to 65535, got \"0\"",
           "root.yaml:3:14: cluster.heartbeat: expected a unit after the number (us, ms, s, "
           "m or h), got \"5\"",
           "root.yaml:5:7: missing key \"address\" in \"cluster.children[0]\"",
           "root.yaml:5:15: cluster.children[0].weight: expected an integer from 1 to 1000, "
           "got \"0\"",
           "root.yaml:6:16: cluster.children[1].address: expected a port from 0 to 65535, got "
           "\"1.2.3.4:99999\"",
           "root.yaml:7:13: cluster.strategy: unknown value \"best\" (expected one of: "
           "round-robin, least-load, random)",
           "root.yaml:8:1: unknown key \"extra\" at top level (expected one of: cluster)",
       });
}

TEST_CASE("free-form maps, allowed keys, optional sections and caller errors") {
  std::vector<std::pair<std::string, int>> weights;
  const Errors errors = errors_of(R"(weights:
  eu: 1
  us: x
source:
  kind: static
  file: /ignored
limits:
  min: 5
  max: 2
empty: {}
)",
                                  [&](ConfigMap& root) {
                                    for (auto& [name, node] : root.map("weights").entries()) {
                                      int w = 0;
                                      if (node.read(w)) weights.emplace_back(name, w);
                                    }
                                    ConfigMap source = root.map("source");
                                    std::string kind;
                                    source.required("kind", kind);
                                    source.allow({"file", "command"});
                                    ConfigMap limits = root.optional_map("limits");
                                    int min = 0, max = 0;
                                    limits.required("min", min);
                                    limits.required("max", max);
                                    if (min > max)
                                      limits.get("max")->error("must not be below min");
                                    ConfigMap absent = root.optional_map("absent");
                                    CHECK(absent.valid());
                                    CHECK(absent.path() == "absent");
                                    absent.optional("x", min);
                                    root.map("empty");
                                  });
  CHECK(errors ==
        Errors{
            "root.yaml:3:7: weights.us: expected an integer from -2147483648 to 2147483647, got "
            "\"x\"",
            "root.yaml:9:8: limits.max: must not be below min",
        });
  CHECK(weights == std::vector<std::pair<std::string, int>>{{"eu", 1}});
}

TEST_CASE("a map read for nothing rejects every key") {
  CHECK(errors_of("opts:\n  a: 1\n", [](ConfigMap& root) { root.map("opts"); }) ==
        Errors{"root.yaml:2:3: unknown key \"a\" in \"opts\" (this map takes no keys)"});
}

TEST_CASE("has, get and reads through std::optional") {
  std::optional<uint16_t> port;
  std::optional<Duration> wait;
  const Errors errors = errors_of("port: 80\nwait: 2s\n", [&](ConfigMap& root) {
    CHECK(root.has("port"));
    CHECK_FALSE(root.has("nope"));
    CHECK_FALSE(root.get("nope").has_value());
    root.optional("port", port, 1, 100);
    root.optional("wait", wait, 1s, 10s);
  });
  CHECK(errors.empty());
  CHECK(port == uint16_t{80});
  CHECK(wait == 2s);
}

TEST_CASE("finish can be called again") {
  auto doc = YamlDocument::load_string("a: 1\n", "x.yaml");
  REQUIRE(doc.ok());
  ConfigReader reader(*doc);
  reader.root().map();
  CHECK(reader.finish() ==
        Errors{"x.yaml:1:1: unknown key \"a\" at top level (this map takes no keys)"});
  reader.error(YAML::Mark(), "late");
  CHECK(reader.finish() ==
        Errors{"x.yaml:1:1: unknown key \"a\" at top level (this map takes no keys)",
               "x.yaml:1:1: late"});
  CHECK(reader.has_errors());
}

TEST_CASE("syntax errors carry file, line and column") {
  auto doc = YamlDocument::load_string("a: [1, 2\nb: 3\n", "bad.yaml");
  REQUIRE_FALSE(doc.ok());
  CHECK(doc.error() == "bad.yaml:2:2: end of sequence flow not found");
  auto tab = YamlDocument::load_string("a:\n\tb: 1\n", "tab.yaml");
  REQUIRE_FALSE(tab.ok());
  CHECK(tab.error().rfind("tab.yaml:2:", 0) == 0);
}

// Found by the config fuzzer: yaml-cpp quotes the offending byte (a control byte, or a
// line break) in its message, which broke the error line or a terminal.
TEST_CASE("a syntax error that quotes a control byte of the input stays on one line") {
  auto doc = YamlDocument::load_string("a: \"\\\x01\"\n", "esc.yaml");
  REQUIRE_FALSE(doc.ok());
  CHECK(doc.error() == "esc.yaml:1:7: unknown escape character: \\x01");
}

// Found by the config fuzzer: a free-form key is part of the path in every message about
// its value, and a quoted key may hold line breaks and any bytes.
TEST_CASE("a free-form key with line breaks or odd bytes is quoted in the path") {
  const Errors errors =
      errors_of("weights:\n  \"a\\nb\\x01\": x\n  plain-key_1.2: y\n", [](ConfigMap& root) {
        for (auto& [name, node] : root.map("weights").entries()) {
          int w = 0;
          node.read(w);
        }
      });
  CHECK(errors == Errors{
                      "root.yaml:2:15: weights.\"a\\nb\\x01\": expected an integer from "
                      "-2147483648 to 2147483647, got \"x\"",
                      "root.yaml:3:18: weights.plain-key_1.2: expected an integer from "
                      "-2147483648 to 2147483647, got \"y\"",
                  });
}

TEST_CASE("files: read, missing, or not a file") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("turnscout-yaml-{}", ::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "root.yaml").string();
  std::ofstream(path) << "cluster:\n  name: eu\n  prot: 1\n";

  auto doc = YamlDocument::load_file(path);
  REQUIRE(doc.ok());
  CHECK(doc->name() == path);
  ConfigReader reader(*doc);
  std::string name;
  reader.root().map().map("cluster").required("name", name);
  CHECK(name == "eu");
  CHECK(reader.finish() ==
        Errors{path + ":3:3: unknown key \"prot\" in \"cluster\" (expected one of: name)"});

  CHECK(YamlDocument::load_file("no-such-dir/root.yaml").error() ==
        "no-such-dir/root.yaml: cannot read: No such file or directory");
  CHECK(YamlDocument::load_file(dir.string()).error() ==
        dir.string() + ": cannot read: Is a directory");
  std::filesystem::remove_all(dir);
}

TEST_CASE("a huge map with duplicate keys is handled in linear time") {
  std::string text;
  for (int i = 0; i < 20000; ++i)
    text += fmt::format("k{}: 1\n", i % 10000);
  auto doc = YamlDocument::load_string(text, "big.yaml");
  REQUIRE(doc.ok());
  ConfigReader reader(*doc);
  reader.root().map().allow({"k0"});
  const Errors errors = reader.finish();
  REQUIRE(errors.size() == 19999);
  CHECK(errors[0] == "big.yaml:2:1: unknown key \"k1\" at top level (expected one of: k0)");
  CHECK(errors[9999] == "big.yaml:10001:1: duplicate key \"k0\" at top level (first at 1:1)");
}

}  // namespace turnscout
