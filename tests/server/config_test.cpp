#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "server/config/config_yaml.hpp"

namespace turnscout::server {
namespace {

namespace fs = std::filesystem;

const std::string kSourceDir = TURNSCOUT_SOURCE_DIR;
// A copy of tests/server/configs whose files only their owner can read (see
// config_tests.cmake).
const std::string kFixtures = TURNSCOUT_CONFIG_FIXTURES;

// The example configs as a user runs them: copied with the two key files the README's
// command makes next to them (owner-only), removed afterwards.
class ExampleConfigs {
 public:
  ExampleConfigs() {
    dir_ = fs::temp_directory_path() / fmt::format("turnscout-configs-{}", ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const auto& entry : fs::directory_iterator(kSourceDir + "/configs")) {
      if (entry.path().extension() == ".yaml") fs::copy(entry.path(), dir_);
    }
    write_key("cluster.key", "3f1c0a5e7b9d2c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4\n");
    write_key("token.key", "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a098765\n");
  }
  ~ExampleConfigs() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  ExampleConfigs(const ExampleConfigs&) = delete;
  ExampleConfigs& operator=(const ExampleConfigs&) = delete;

  std::string path(std::string_view name) const { return (dir_ / name).string(); }
  const fs::path& dir() const { return dir_; }

 private:
  void write_key(std::string_view name, std::string_view text) const {
    const fs::path file = dir_ / name;
    { std::ofstream create(file); }
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
    std::ofstream(file) << text;
  }
  fs::path dir_;
};

Endpoint ep(std::string_view text) {
  return parse_endpoint(text).value();
}

// One error per line, so that doctest shows both sides of a failed comparison.
std::string lines(const std::vector<std::string>& errors) {
  std::string out;
  for (const std::string& e : errors)
    out += e + "\n";
  return out;
}

// The errors of `text`, loaded under the name "test.yaml" with the fixtures as base folder.
std::string errors_of(std::string_view text) {
  auto cfg = parse_server_config(text, "test.yaml", kFixtures);
  if (cfg.ok()) return "";
  return lines(cfg.error());
}

ServerConfig parse_ok(std::string_view text) {
  auto cfg = parse_server_config(text, "test.yaml", kFixtures);
  if (!cfg.ok()) {
    for (const std::string& e : cfg.error())
      MESSAGE(e);
  }
  REQUIRE(cfg.ok());
  return *cfg;
}

constexpr std::string_view kMinimal =
    "node:\n"
    "  name: n1\n"
    "  listen: [\"127.0.0.1:3479\"]\n";

TEST_CASE("every example server config loads") {
  const ExampleConfigs examples;
  size_t loaded = 0;
  for (const auto& entry : fs::directory_iterator(examples.dir())) {
    if (entry.path().extension() != ".yaml") continue;
    // demo.yaml is a topology for `turnscout cluster`; tests/cluster loads it.
    if (entry.path().filename() == "demo.yaml") continue;
    CAPTURE(entry.path().string());
    auto cfg = load_server_config(entry.path().string());
    if (!cfg.ok()) {
      for (const std::string& e : cfg.error())
        MESSAGE(e);
    }
    CHECK(cfg.ok());
    ++loaded;
  }
  CHECK(loaded >= 3);
}

TEST_CASE("the example tree: root, region eu-west, leaf eu-west-1") {
  const ExampleConfigs examples;
  auto root = load_server_config(examples.path("root.yaml"));
  auto region = load_server_config(examples.path("region.yaml"));
  auto leaf = load_server_config(examples.path("leaf.yaml"));
  REQUIRE(root.ok());
  REQUIRE(region.ok());
  REQUIRE(leaf.ok());

  CHECK(root->name == "root");
  CHECK(root->parents.empty());
  CHECK(root->listen == std::vector<Endpoint>{ep("127.0.0.1:3479"), ep("[::1]:3479")});
  REQUIRE(root->children.size() == 1);
  CHECK(root->children[0].name == region->name);

  CHECK(region->name == "eu-west");
  CHECK(region->listen == std::vector<Endpoint>{ep("0.0.0.0:3480")});
  CHECK(region->advertise == std::vector<Endpoint>{ep("127.0.0.1:3480")});
  REQUIRE(region->parents.size() == 1);
  CHECK(region->parents[0].address == root->listen[0]);
  CHECK(root->children[0].address == region->advertise[0]);
  CHECK(region->listing.strategy == Strategy::kWeighted);
  REQUIRE(region->children.size() == 1);
  CHECK(region->children[0].name == leaf->name);
  CHECK(region->children[0].address == leaf->listen[0]);
  CHECK(region->children[0].weight == 2);

  CHECK(leaf->name == "eu-west-1");
  CHECK(leaf->advertise == leaf->listen);
  CHECK(leaf->parents[0].address == region->advertise[0]);
  CHECK(leaf->load.source == LoadSourceKind::kHost);
  CHECK(leaf->load.capacity_mbps == 1000);
  CHECK(leaf->load.capacity == 500);
  CHECK(leaf->services.size() == 3);

  // One cluster: the same key and tiers everywhere; no two nodes share a port.
  CHECK(root->cluster.key == region->cluster.key);
  CHECK(leaf->cluster.key == region->cluster.key);
  CHECK(root->admission.tiers.size() == 2);
  CHECK(leaf->admission.tiers.size() == root->admission.tiers.size());
  std::set<uint16_t> ports;
  for (const ServerConfig* cfg : {&*root, &*region, &*leaf}) {
    ports.insert(cfg->listen[0].port);
    ports.insert(cfg->metrics_listen.value().port);
  }
  CHECK(ports.size() == 6);
}

TEST_CASE("defaults are safe") {
  const ServerConfig cfg = parse_ok(kMinimal);
  CHECK(cfg.source_file == "test.yaml");
  CHECK(cfg.advertise == cfg.listen);
  CHECK(cfg.weight == 1);
  CHECK(cfg.heartbeat.interval == 1s);
  CHECK(cfg.heartbeat.missed == 3);
  CHECK(cfg.heartbeat.replay_window == 30s);
  CHECK(cfg.cluster.key.empty());
  CHECK_FALSE(cfg.cluster.accept_dynamic_children);
  CHECK(cfg.load.source == LoadSourceKind::kStatic);
  CHECK(cfg.load.static_permille == 0);
  CHECK(cfg.listing.strategy == Strategy::kLeastLoad);
  CHECK(cfg.listing.max_children == 8);
  CHECK(cfg.listing.overload_permille == 900);
  CHECK(cfg.admission.enabled);
  REQUIRE(cfg.admission.tiers.size() == 1);
  CHECK(cfg.admission.tiers[0].name == "free");
  CHECK(cfg.admission.tiers[0].id == 0);
  CHECK(cfg.admission.tiers[0].burst == 20);
  CHECK(cfg.admission.tiers[0].refill_per_second == 5);
  CHECK(cfg.admission.max_clients == 65536);
  CHECK(cfg.services.empty());
  CHECK_FALSE(cfg.metrics_listen.has_value());
  CHECK(cfg.log_level == "info");
  CHECK(cfg.workers == 1);
}

TEST_CASE("every key is read") {
  const ServerConfig cfg = parse_ok(R"(
node:
  name: eu-west-1.a_b
  listen: ["0.0.0.0:3481", "[::]:3481"]
  advertise: ["198.51.100.21:3481", "[2001:db8::21]:3481"]
  weight: 300
parents: ["192.0.2.1:3479", "[2001:db8::1]:3479"]
children:
  - {name: c1, address: "198.51.100.31:3479", weight: 7}
  - {name: c2, address: "[2001:db8::32]:3479"}
cluster: {key_file: keys/good.key, accept_dynamic_children: true}
heartbeat: {interval: 250ms, missed: 5, replay_window: 1m}
load: {source: file, file: load.txt, refresh: 500ms, capacity: 1200}
listing: {strategy: ip-hash, max_children: 0, overload: 1.25}
admission:
  enabled: false
  probe_cost: 2
  binding_cost: 3
  other_cost: 4
  max_clients: 1000
  tiers:
    gold: {id: 7, burst: 100.5, refill: 0.25}
    free: {burst: 10, refill: 2}
services: ["stun:[2001:db8::5]", "turns:turn.example.org:5349?transport=tcp"]
metrics: {listen: "[::1]:9469"}
log: {level: warning}
workers: 64
)");
  CHECK(cfg.name == "eu-west-1.a_b");
  CHECK(cfg.listen == std::vector<Endpoint>{ep("0.0.0.0:3481"), ep("[::]:3481")});
  CHECK(cfg.advertise ==
        std::vector<Endpoint>{ep("198.51.100.21:3481"), ep("[2001:db8::21]:3481")});
  CHECK(cfg.weight == 300);
  REQUIRE(cfg.parents.size() == 2);
  CHECK(cfg.parents[1].address == ep("[2001:db8::1]:3479"));
  REQUIRE(cfg.children.size() == 2);
  CHECK(cfg.children[0].name == "c1");
  CHECK(cfg.children[0].weight == 7);
  CHECK(cfg.children[1].address == ep("[2001:db8::32]:3479"));
  CHECK(cfg.children[1].weight == 1);
  CHECK(cfg.cluster.key == "test-cluster-key-0123456789abcdef");  // Newline stripped.
  CHECK(cfg.cluster.key_file == (fs::path(kFixtures) / "keys/good.key").string());
  CHECK(cfg.cluster.accept_dynamic_children);
  CHECK(cfg.heartbeat.interval == 250ms);
  CHECK(cfg.heartbeat.missed == 5);
  CHECK(cfg.heartbeat.replay_window == 60s);
  CHECK(cfg.load.source == LoadSourceKind::kFile);
  CHECK(cfg.load.file == (fs::path(kFixtures) / "load.txt").string());
  CHECK(cfg.load.refresh == 500ms);
  CHECK(cfg.load.capacity == 1200);
  CHECK(cfg.listing.strategy == Strategy::kIpHash);
  CHECK(cfg.listing.max_children == 0);
  CHECK(cfg.listing.overload_permille == 1250);
  CHECK_FALSE(cfg.admission.enabled);
  CHECK(cfg.admission.probe_cost == 2);
  CHECK(cfg.admission.binding_cost == 3);
  CHECK(cfg.admission.other_cost == 4);
  CHECK(cfg.admission.max_clients == 1000);
  REQUIRE(cfg.admission.tiers.size() == 2);
  CHECK(cfg.admission.tiers[0].name == "free");  // First whatever the order in the file.
  CHECK(cfg.admission.tiers[0].burst == 10);
  CHECK(cfg.admission.tiers[0].refill_per_second == 2);
  CHECK(cfg.admission.tiers[1].name == "gold");
  CHECK(cfg.admission.tiers[1].id == 7);
  CHECK(cfg.admission.tiers[1].burst == 100.5);
  CHECK(cfg.admission.tiers[1].refill_per_second == 0.25);
  CHECK(cfg.services == std::vector<std::string>{"stun:[2001:db8::5]",
                                                 "turns:turn.example.org:5349?transport=tcp"});
  CHECK(cfg.metrics_listen == ep("[::1]:9469"));
  CHECK(cfg.log_level == "warning");
  CHECK(cfg.workers == 64);
}

TEST_CASE("load sources") {
  std::string text(kMinimal);
  CHECK(parse_ok(text + "load: {source: static, value: 0.35}").load.static_permille == 350);
  CHECK(parse_ok(text + "load: {value: 10}").load.static_permille == 10000);
  const ServerConfig host =
      parse_ok(text + "load: {source: host, capacity_mbps: 10000, refresh: 2s}");
  CHECK(host.load.source == LoadSourceKind::kHost);
  CHECK(host.load.capacity_mbps == 10000);
  CHECK(host.load.refresh == 2s);
  CHECK(parse_ok(text + "load: {source: file, file: /run/turnscout/load}").load.file ==
        "/run/turnscout/load");
  CHECK(errors_of(text + "load: {value: 10.5}") ==
        lines(std::vector<std::string>{
            "test.yaml:4:15: load.value: expected a number from 0 to 10, got \"10.5\""}));
  CHECK(errors_of(text + "load: {source: static, refresh: 1s}") ==
        lines(std::vector<std::string>{
            "test.yaml:4:33: load.refresh: not used with source: static"}));
}

TEST_CASE("log: level and format") {
  std::string text(kMinimal);
  CHECK_FALSE(parse_ok(text).log_json);
  CHECK(parse_ok(text + "log: {format: json}").log_json);
  CHECK_FALSE(parse_ok(text + "log: {level: debug, format: text}").log_json);
  CHECK(
      errors_of(text + "log: {format: yaml}")
          .find(
              "test.yaml:4:15: log.format: unknown value \"yaml\" (expected one of: text, json)") !=
      std::string::npos);
}

TEST_CASE("describe_changes names what a reload changes, before and after") {
  std::string text(kMinimal);
  const ServerConfig before = parse_ok(text);
  CHECK(describe_changes(before, before).empty());
  const ServerConfig after =
      parse_ok(text + "listing: {strategy: weighted, max_children: 4}\nlog: {level: debug}\n");
  const std::vector<std::string> changes = describe_changes(before, after);
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].find("node: ") == 0);
  CHECK(changes[0].find("log level info → ") != std::string::npos);
  CHECK(changes[0].find("log level debug") != std::string::npos);
  CHECK(changes[1].find("listing: ") == 0);
  CHECK(changes[1].find(" → weighted, up to 4 children per reply") != std::string::npos);
}

TEST_CASE("advertise: defaults, wildcards and limits") {
  // A root may listen on wildcards only: nobody needs its advertised addresses.
  const ServerConfig root =
      parse_ok("node: {name: root, listen: [\"0.0.0.0:3479\", \"127.0.0.1:3480\", \"[::]:3479\"]}");
  CHECK(root.advertise == std::vector<Endpoint>{ep("127.0.0.1:3480")});
  // With parents, an explicit advertise makes the wildcard fine.
  const ServerConfig child = parse_ok(
      "node: {name: c, listen: [\"0.0.0.0:3479\"], advertise: [\"192.0.2.7:3479\"]}\n"
      "parents: [\"192.0.2.1:3479\"]\ncluster: {insecure: true}");
  CHECK(child.advertise == std::vector<Endpoint>{ep("192.0.2.7:3479")});

  CHECK(errors_of("node: {name: c, listen: [\"127.0.0.1:1\"], advertise: [\"[::]:3479\", "
                  "\"192.0.2.7:0\", \"192.0.2.8:1\", \"192.0.2.8:1\"]}") ==
        lines(std::vector<std::string>{
            "test.yaml:1:54: node.advertise[0]: [::]:3479 is a wildcard address; clients need "
            "one they can reach",
            "test.yaml:1:67: node.advertise[1]: 192.0.2.7:0 has port 0; clients need the real "
            "port",
            "test.yaml:1:97: node.advertise[3]: 192.0.2.8:1 is listed twice"}));
  CHECK(errors_of("node:\n  name: c\n  listen: [\"127.0.0.1:1\"]\n  advertise: [\"192.0.2.1:1\", "
                  "\"192.0.2.2:1\", \"192.0.2.3:1\", \"192.0.2.4:1\", \"192.0.2.5:1\"]") ==
        lines(std::vector<std::string>{
            "test.yaml:4:14: node.advertise: at most 4 addresses, got 5"}));
  CHECK(errors_of("node: {name: c, listen: [], advertise: []}") ==
        lines(std::vector<std::string>{
            "test.yaml:1:25: node.listen: needs at least one address",
            "test.yaml:1:40: node.advertise: needs at least one address"}));
  CHECK(errors_of("node:\n  name: c\n  listen:\n") ==
        lines(std::vector<std::string>{"test.yaml:3:3: node.listen: needs at least one address"}));
}

TEST_CASE("parents need a listen socket of their family") {
  CHECK(errors_of("node: {name: c, listen: [\"127.0.0.1:3481\"]}\n"
                  "parents: [\"192.0.2.1:3479\", \"[2001:db8::1]:3479\"]") ==
        "test.yaml:2:29: parents[1]: [2001:db8::1]:3479 is IPv6 and no listen address is: "
        "heartbeats are sent from a listen socket\n");
  CHECK(parse_ok("node: {name: c, listen: [\"127.0.0.1:3481\", \"[::1]:3481\"]}\n"
                 "parents: [\"192.0.2.1:3479\", \"[2001:db8::1]:3479\"]")
            .parents.size() == 2);
}

TEST_CASE("services") {
  const std::string text(kMinimal);
  const std::string long_host(260, 'a');
  CHECK(errors_of(text + "services: [\"turn:" + long_host + "\"]") ==
        "test.yaml:4:12: services[0]: expected a URI like turn:198.51.100.21:3478?transport=udp, "
        "got \"turn:" +
            std::string(59, 'a') + "\"... (longer than 255 bytes)\n");
  CHECK(errors_of(text + "services: [\"stun:192.0.2.1\", \"stun:192.0.2.1\", 5]") ==
        "test.yaml:4:30: services[1]: \"stun:192.0.2.1\" is listed twice\n"
        "test.yaml:4:48: services[2]: expected a URI like turn:198.51.100.21:3478?transport=udp, "
        "got \"5\" (bad scheme at character 1)\n");
  CHECK(errors_of(text + "services: [\"stun:192.0.2.1?transport=udp\", [x]]") ==
        "test.yaml:4:12: services[0]: expected a URI like turn:198.51.100.21:3478?transport=udp, "
        "got \"stun:192.0.2.1?transport=udp\" (bad query at character 15)\n"
        "test.yaml:4:44: services[1]: expected a string, got a sequence\n");
}

TEST_CASE("the cluster key") {
  const std::string text(kMinimal);
  const std::string key = "0123456789abcdef";
  CHECK(parse_ok(text + "cluster: {key: \"" + key + "\"}").cluster.key == key);
  CHECK(parse_ok(text + "cluster: {key: \"" + key + "\"}").cluster.key_file.empty());
  const std::string absolute = (fs::path(kFixtures) / "keys" / "good.key").string();
  const ServerConfig from_file = parse_ok(text + "cluster: {key_file: \"" + absolute + "\"}");
  CHECK(from_file.cluster.key == "test-cluster-key-0123456789abcdef");
  CHECK(from_file.cluster.key_file == absolute);
  // The key is never shown, only where it came from.
  const std::string summary = describe(from_file);
  CHECK(summary.find("test-cluster-key") == std::string::npos);
  CHECK(summary.find("33 bytes from \"" + absolute + "\"") != std::string::npos);
  CHECK(errors_of(text + "cluster: {key_file: keys/short.key}") ==
        lines(std::vector<std::string>{
            "test.yaml:4:21: cluster.key_file: the key in \"" + kFixtures +
            "/keys/short.key\" is 9 bytes; use at least 16 random bytes"}));
}

// Found by an attack run: the example keys from the documents worked on a real server (one
// minted a tier-1 token and registered a region), and a world-readable key file was used.
TEST_CASE("keys: documented example keys and key files others can read are refused") {
  const std::string text(kMinimal);
  for (const char* documented :
       {"turnscout-example-cluster-key", "example-cluster-key-replace-me-0123456789"}) {
    CAPTURE(documented);
    const std::string errors = errors_of(text + "cluster: {key: \"" + documented + "\"}");
    CHECK(errors.find("test.yaml:4:16: cluster.key: the key is an example key from turnscout's "
                      "documentation") == 0);
    CHECK(errors_of(text + "admission: {token_key: \"" + documented + "\"}")
              .find("admission.token_key: the key is an example key") != std::string::npos);
  }
  const fs::path dir = fs::temp_directory_path() / fmt::format("turnscout-keys-{}", ::getpid());
  fs::create_directories(dir);
  const fs::path file = dir / "cluster.key";
  std::ofstream(file) << "0123456789abcdef0123456789abcdef\n";
  // One error only: accept_dynamic_children does not also complain about the missing key.
  const std::string yaml =
      text + "cluster: {key_file: \"" + file.string() + "\", accept_dynamic_children: true}";
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::others_read);
  CHECK(errors_of(yaml) ==
        lines(std::vector<std::string>{fmt::format(
            "test.yaml:4:21: cluster.key_file: \"{0}\" is accessible by other users (mode "
            "0644): run chmod 600 {0} (or 640 for a group the server runs in)",
            file.string())}));
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_write);
  CHECK(errors_of(yaml).find("(mode 0620)") != std::string::npos);
  fs::permissions(file, fs::perms::owner_read | fs::perms::group_read);
  CHECK(parse_ok(yaml).cluster.key == "0123456789abcdef0123456789abcdef");
  // A missing file says how to make one.
  const std::string missing = (dir / "missing.key").string();
  CHECK(errors_of(text + "cluster: {key_file: \"" + missing + "\"}") ==
        lines(std::vector<std::string>{fmt::format(
            "test.yaml:4:21: cluster.key_file: cannot read \"{0}\": No such file or directory; "
            "make one with (umask 077; openssl rand -hex 32 > {0})",
            missing)}));
  // A name with a line break and a control byte (the config fuzzer's find): the suggested
  // command quotes it like the rest of the line, which stays one line.
  const std::string odd = errors_of(text + "cluster: {key_file: \"odd\\x11\\nname.key\"}");
  CHECK(odd.find("/odd\\x11\\nname.key\": No such file") != std::string::npos);
  CHECK(odd.find("openssl rand -hex 32 > \"") != std::string::npos);
  CHECK(odd.ends_with("/odd\\x11\\nname.key\")\n"));
  CHECK(odd.find('\x11') == std::string::npos);
  CHECK(std::count(odd.begin(), odd.end(), '\n') <= 1);
  fs::remove_all(dir);
}

TEST_CASE("keys: a second cluster key and token key for a rotation") {
  const std::string text(kMinimal);
  const ServerConfig rotating = parse_ok(
      text +
      "cluster: {key: \"the-new-cluster-key-123\", accept_key: \"the-old-cluster-key-456\"}\n"
      "admission:\n  token_key: \"the-new-token-key-789\"\n"
      "  accept_token_key: \"the-old-token-key-012\"\n"
      "  tiers: {gold: {id: 1, burst: 100, refill: 10}}\n");
  CHECK(rotating.cluster.key == "the-new-cluster-key-123");
  CHECK(rotating.cluster.accept_key == "the-old-cluster-key-456");
  CHECK(rotating.admission.token_key == "the-new-token-key-789");
  CHECK(rotating.admission.accept_token_key == "the-old-token-key-012");
  const std::string summary = describe(rotating);
  CHECK(summary.find("  cluster key: 23 bytes, inline; also accepted: 23 bytes, inline\n") !=
        std::string::npos);
  CHECK(summary.find("  token key:   21 bytes, inline; also accepted: 21 bytes, inline\n") !=
        std::string::npos);
  CHECK(summary.find("the-old") == std::string::npos);

  CHECK(errors_of(text + "cluster: {accept_key: \"the-old-cluster-key-456\"}") ==
        lines(std::vector<std::string>{
            "test.yaml:4:23: cluster.accept_key: is a second key for a rotation; set "
            "cluster.key_file (the key to sign with)"}));
  CHECK(errors_of(text + "cluster: {key: \"0123456789abcdef\", key_file: keys/good.key}") ==
        lines(std::vector<std::string>{
            "test.yaml:4:46: cluster.key_file: set cluster.key or cluster.key_file, not both"}));
}

TEST_CASE("keys: a tier above free without a token key is an error") {
  const std::string text(kMinimal);
  CHECK(errors_of(text + "admission:\n  tiers: {gold: {id: 1, burst: 100, refill: 10}}\n") ==
        lines(std::vector<std::string>{
            "test.yaml:5:17: admission.tiers.gold: no client can reach tier \"gold\": capacity "
            "tokens need admission.token_key_file to be verified"}));
  // Without admission control there are no tiers to reach.
  CHECK(errors_of(text + "admission:\n  enabled: false\n"
                         "  tiers: {gold: {id: 1, burst: 100, refill: 10}}\n")
            .empty());
  CHECK(describe(parse_ok(text)).find("  token key:   none: capacity tokens are ignored\n") !=
        std::string::npos);
}

struct BrokenConfig {
  std::string file;
  std::vector<std::string> errors;  // Each without the leading "PATH:".
};

// One entry per file in tests/server/configs; the test fails when a fixture is missing here.
std::vector<BrokenConfig> broken_configs() {
  const std::string keys = kFixtures + "/keys/";
  return {
      {"bad_duration.yaml",
       {"4:23: heartbeat.interval: expected a duration like 250ms, 2s or 1m, got \"1 second\""}},
      {"bad_endpoint.yaml",
       {"4:29: parents[1]: expected an address like 192.0.2.1:3478 or [2001:db8::1]:3478, got "
        "\"192.0.2.300:3479\""}},
      {"bad_log_level.yaml",
       {"4:14: log.level: unknown log level \"verbose\" (expected one of: trace, debug, info, "
        "warn, error, critical, off)"}},
      {"bad_service.yaml",
       {"6:5: services[1]: expected a URI like turn:198.51.100.21:3478?transport=udp, got "
        "\"turn:198.51.100.21:99999\" (bad port at character 20)"}},
      {"bad_strategy.yaml",
       {"5:13: listing.strategy: unknown value \"fastest\" (expected one of: all, round-robin, "
        "weighted, least-load, random, two-choice, ip-hash)"}},
      {"bad_values.yaml",
       {"2:9: node.name: expected 1 to 64 of A-Z a-z 0-9 . _ -, got \"eu west\"",
        "4:11: node.weight: expected an integer from 1 to 65535, got \"0\"",
        "5:21: listing.overload: expected a number from 0.001 to 10, got \"0\"",
        "5:38: listing.max_children: expected an integer from 0 to 1024, got \"-1\"",
        "6:10: workers: expected an integer from 1 to 64, got \"100\""}},
      {"children.yaml",
       {"4:11: parents[0]: 127.0.0.1:3480 is this node's own listen address",
        "4:29: parents[1]: 0.0.0.0:3479 is a wildcard address; heartbeats need one they can "
        "reach",
        "7:12: children[1].name: \"eu-west-1\" is already the name of children[0]",
        "7:32: children[1].address: 127.0.0.1:3481 is already the address of children[0]",
        "7:58: children[1].weight: expected an integer from 1 to 65535, got \"70000\"",
        "8:12: children[2].name: \"eu-west\" is this node's own name",
        "8:48: unknown key \"wieght\" in \"children[2]\" (expected one of: address, name, weight)",
        "9:5: children[3]: expected a map, got \"127.0.0.1:3483\""}},
      {"duplicate_key.yaml", {"5:1: duplicate key \"workers\" at top level (first at 4:1)"}},
      {"dynamic_without_key.yaml",
       {"5:28: cluster.accept_dynamic_children: needs a cluster key (cluster.key or "
        "cluster.key_file) to verify the heartbeats of children that are not listed"}},
      {"empty.yaml", {"1:1: missing key \"node\" at top level"}},
      {"interval_range.yaml",
       {"5:13: heartbeat.interval: expected a duration from 50ms to 1m, got \"10ms\"",
        "6:11: heartbeat.missed: expected an integer from 2 to 100, got \"1\""}},
      {"key_and_key_file.yaml",
       {"6:13: cluster.key_file: set cluster.key or cluster.key_file, not both"}},
      {"key_file_empty.yaml", {"5:13: cluster.key_file: \"" + keys + "empty.key\" is empty"}},
      {"key_file_missing.yaml",
       {"5:13: cluster.key_file: cannot read \"" + keys +
        "missing.key\": No such file or directory; make one with (umask 077; openssl rand -hex "
        "32 > " +
        keys + "missing.key)"}},
      {"load_settings.yaml",
       {"5:3: missing key \"file\" in \"load\"", "6:10: load.value: not used with source: file",
        "7:18: load.capacity_mbps: not used with source: file"}},
      {"missing_name.yaml", {"2:3: missing key \"name\" in \"node\""}},
      {"nested_typo.yaml",
       {"6:3: unknown key \"mised\" in \"heartbeat\" (expected one of: interval, missed, "
        "replay_window)"}},
      {"port_range.yaml",
       {"3:30: node.listen[1]: expected a port from 0 to 65535, got \"[::1]:70000\""}},
      {"short_key.yaml", {"4:16: cluster.key: the key is 5 bytes; use at least 16 random bytes"}},
      {"syntax_error.yaml", {"4:1: end of sequence flow not found"}},
      {"tiers.yaml",
       {"7:16: admission.tiers.free.id: the free tier is id 0",
        "7:26: admission.tiers.free.burst: 2 tokens cannot pay for a request that costs 5",
        "9:18: admission.tiers.silver.id: id 1 is already tier \"gold\"",
        "10:13: missing key \"id\" in \"admission.tiers.bronze\""}},
      {"unknown_key.yaml",
       {"4:1: unknown key \"hearbeat\" at top level (expected one of: admission, children, "
        "cluster, heartbeat, listing, load, log, metrics, node, parents, services, tcp, tls, "
        "workers)"}},
      {"wildcard_with_parents.yaml",
       {"3:11: node.listen: 0.0.0.0:3480 is a wildcard address and this node has parents: they "
        "give clients the node.advertise addresses, which default to the listen addresses; set "
        "node.advertise to the addresses clients can reach",
        "3:11: node.listen: 0.0.0.0:3480 is reachable from other hosts, and heartbeats without a "
        "cluster key can be forged by anyone who spoofs a source address: set cluster.key_file "
        "(or cluster.key), or cluster.insecure: true to accept that"}},
      {"wrong_type.yaml",
       {"3:11: node.listen: expected a sequence, got \"127.0.0.1:3481\"",
        "4:22: admission.enabled: expected true or false, got \"yes\"",
        "5:12: heartbeat: expected a map, got \"5\""}},
  };
}

TEST_CASE("each broken config gives its file:line:col messages") {
  std::set<std::string> checked;
  for (const BrokenConfig& broken : broken_configs()) {
    const std::string path = kFixtures + "/" + broken.file;
    CAPTURE(path);
    auto cfg = load_server_config(path);
    REQUIRE_FALSE(cfg.ok());
    std::vector<std::string> expected;
    for (const std::string& e : broken.errors)
      expected.push_back(path + ":" + e);
    CHECK(lines(cfg.error()) == lines(expected));
    checked.insert(broken.file);
  }
  for (const auto& entry : fs::directory_iterator(kFixtures)) {
    if (entry.path().extension() != ".yaml") continue;
    CAPTURE(entry.path().string());
    CHECK(checked.count(entry.path().filename().string()) == 1);
  }
  CHECK(checked.size() >= 12);
}

TEST_CASE("a missing file and text that is not a map") {
  const std::string path = kFixtures + "/no-such-config.yaml";
  auto missing = load_server_config(path);
  REQUIRE_FALSE(missing.ok());
  CHECK(lines(missing.error()) == path + ": cannot read: No such file or directory\n");
  CHECK(errors_of("just text") ==
        lines(std::vector<std::string>{
            "test.yaml:1:1: top level: expected a map, got \"just text\""}));
  CHECK(
      errors_of("- a\n- b\n") ==
      lines(std::vector<std::string>{"test.yaml:1:1: top level: expected a map, got a sequence"}));
}

TEST_CASE("describe summarises without the key") {
  const ExampleConfigs examples;
  auto leaf = load_server_config(examples.path("leaf.yaml"));
  REQUIRE(leaf.ok());
  const std::string text = describe(*leaf);
  CHECK(text.find("node eu-west-1 (weight 2), 2 workers, log level info\n") == 0);
  CHECK(text.find("  parents:     127.0.0.1:3480\n") != std::string::npos);
  CHECK(text.find("  load:        host CPU and network against 1000 Mbit/s, every 1s; capacity "
                  "500\n") != std::string::npos);
  CHECK(text.find("  tiers:       free (id 0) burst 20 refill 5/s, gold (id 1) burst 200 refill "
                  "50/s\n") != std::string::npos);
  CHECK(text.find("  streams:     TCP on the listen addresses, TLS off; 1024 connections, 16 per "
                  "source, first request within 5s, idle 30s, requests up to 2048 bytes, 65536 "
                  "bytes queued per connection\n") != std::string::npos);
  CHECK(text.find(leaf->cluster.key) == std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 15);
}

}  // namespace
}  // namespace turnscout::server

namespace turnscout::server {

// Found by an attack run: the duplicate check compared every child with every earlier one,
// so 100,000 listed children took 34 s to load. Now each is one hash lookup.
TEST_CASE("config: 100,000 listed children load, and a duplicate among them is named") {
  std::string text(kMinimal);
  text += "children:\n";
  for (uint32_t i = 0; i < 100'000; ++i) {
    text += fmt::format("  - {{name: c{}, address: \"10.{}.{}.{}:3479\"}}\n", i, i >> 16,
                        (i >> 8) & 0xff, i & 0xff);
  }
  CHECK(parse_ok(text).children.size() == 100'000);
  text += "  - {name: c77777, address: \"10.200.0.1:3479\"}\n";
  CHECK(errors_of(text) ==
        "test.yaml:100005:12: children[100000].name: \"c77777\" is already the name of "
        "children[77777]\n");
}

// Found by an attack run: without a key, spoofed heartbeats from a listed child's address
// sent clients anywhere and a spoofed Leave removed the child.
TEST_CASE("config: keyless heartbeats beyond loopback need cluster.insecure") {
  const std::string keyless =
      "node: {name: c, listen: [\"192.0.2.7:3479\"]}\n"
      "children: [{name: k, address: \"192.0.2.8:3479\"}]\n";
  CHECK(errors_of(keyless) ==
        "test.yaml:1:25: node.listen: 192.0.2.7:3479 is reachable from other hosts, and "
        "heartbeats without a cluster key can be forged by anyone who spoofs a source address: "
        "set cluster.key_file (or cluster.key), or cluster.insecure: true to accept that\n");
  CHECK(parse_ok(keyless + "cluster: {insecure: true}").cluster.insecure);
  CHECK(
      parse_ok(keyless + "cluster: {key: \"0123456789abcdef0123456789abcdef\"}").children.size() ==
      1);
  // Loopback (a test bed), or no heartbeats at all: nothing to forge.
  CHECK(errors_of("node: {name: c, listen: [\"127.0.0.1:3479\"]}\n"
                  "children: [{name: k, address: \"127.0.0.2:3479\"}]\n") == "");
  CHECK(errors_of("node: {name: c, listen: [\"0.0.0.0:3479\"]}\n") == "");
}

TEST_CASE("tcp and tls: defaults, limits and what TLS needs") {
  const std::string text(kMinimal);
  const ServerConfig defaults = parse_ok(text);
  CHECK(defaults.streams.tcp);
  CHECK(defaults.streams.tls_listen.empty());
  CHECK(defaults.streams.max_connections == 1024);
  CHECK(defaults.streams.max_per_source == 16);
  CHECK(defaults.streams.max_request_size == 2048);

  const ServerConfig set = parse_ok(text +
                                    "tcp: {enabled: false, max_connections: 10, max_per_source: 2, "
                                    "first_request_timeout: 1s, idle_timeout: 2s, "
                                    "max_request_size: 600, max_write_queue: 8192}\n"
                                    "tls: {listen: [\"127.0.0.1:443\"], cert_file: empty.yaml, "
                                    "key_file: empty.yaml, handshake_timeout: 3s}\n");
  CHECK_FALSE(set.streams.tcp);
  CHECK(set.streams.max_connections == 10);
  CHECK(set.streams.max_per_source == 2);
  CHECK(set.streams.first_request_timeout == std::chrono::seconds{1});
  CHECK(set.streams.idle_timeout == std::chrono::seconds{2});
  CHECK(set.streams.max_request_size == 600);
  CHECK(set.streams.max_write_queue == 8192);
  CHECK(set.streams.handshake_timeout == std::chrono::seconds{3});
  REQUIRE(set.streams.tls_listen.size() == 1);
  CHECK(set.streams.tls_listen[0] == ep("127.0.0.1:443"));
  CHECK(set.streams.tls_cert_file == kFixtures + "/empty.yaml");

  CHECK(errors_of(text + "tcp: {max_connections: 0, max_request_size: 100}") ==
        "test.yaml:4:24: tcp.max_connections: expected an integer from 1 to 1000000, got \"0\"\n"
        "test.yaml:4:45: tcp.max_request_size: expected an integer from 548 to 65555, got "
        "\"100\"\n");
  CHECK(errors_of(text + "tls: {listen: [\"127.0.0.1:443\"]}") ==
        "test.yaml:4:15: tls.listen: needs tls.cert_file and tls.key_file (PEM) to serve TLS\n");
  CHECK(errors_of(text + "tls: {cert_file: empty.yaml}") ==
        "test.yaml:4:18: tls.cert_file: needs tls.key_file (the certificate's private key)\n");
  CHECK(errors_of(text + "tls: {key_file: empty.yaml}") ==
        "test.yaml:4:17: tls.key_file: needs tls.cert_file (the certificate it belongs to)\n");
  // A certificate alone serves TLS on the TCP ports (told apart by the first byte).
  const ServerConfig on_tcp_ports =
      parse_ok(text + "tls: {cert_file: empty.yaml, key_file: empty.yaml}");
  CHECK(on_tcp_ports.streams.tls_listen.empty());
  CHECK(on_tcp_ports.streams.tls_key_file == kFixtures + "/empty.yaml");
  CHECK(errors_of(text + "tcp: {enabled: false}\ntls: {cert_file: empty.yaml, key_file: "
                         "empty.yaml}") ==
        "test.yaml:5:18: tls.cert_file: is not used: TLS is served on tls.listen and on the TCP "
        "ports, and there are neither (tcp.enabled is false)\n");
  CHECK(errors_of(text + "tls: {listen: [\"127.0.0.1:443\"], cert_file: nope.pem, key_file: "
                         "empty.yaml}") == "test.yaml:4:45: tls.cert_file: cannot read \"" +
                                               kFixtures +
                                               "/nope.pem\": No such file or directory\n");
  CHECK(errors_of(text + "tls: {listen: [\"127.0.0.1:3479\"], cert_file: empty.yaml, key_file: "
                         "empty.yaml}") ==
        "test.yaml:4:15: tls.listen: 127.0.0.1:3479 is also a node.listen address, which serves "
        "TCP there: pick another port for TLS (443 is usual) or set tcp.enabled: false\n");
}

}  // namespace turnscout::server
