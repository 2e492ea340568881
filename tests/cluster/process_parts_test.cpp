// The pure and local parts of the cluster's process mode: the server config it writes for
// a node (read back by the server's own loader), what it reads from a node's metrics,
// where the CLI finds turnscout-server, and how it picks free ports.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "base/endpoint.hpp"
#include "common/sockaddr.hpp"
#include "server/config/config_yaml.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/cluster/cluster_command.hpp"
#include "tools/cluster/metrics_poller.hpp"
#include "tools/cluster/node_process.hpp"
#include "tools/cluster/server_yaml.hpp"

namespace turnscout::cluster {
namespace {

using std::chrono::milliseconds;

server::ServerConfig sample_config() {
  server::ServerConfig c;
  c.name = "eu-west";
  c.listen = {Endpoint::v4(127, 1, 0, 2, 40001)};
  c.advertise = {Endpoint::v4(127, 2, 0, 2, 50001)};
  c.weight = 3;
  c.parents = {{Endpoint::v4(127, 1, 0, 1, 40000)}, {Endpoint::v4(127, 1, 0, 9, 40009)}};
  c.children = {{"eu-west-1", Endpoint::v4(127, 1, 0, 3, 40002), 1},
                {"eu-west-2", Endpoint::v4(127, 1, 0, 4, 40003), 7}};
  c.cluster.key = "0123456789abcdef0123456789abcdef";
  c.heartbeat.interval = milliseconds{150};
  c.heartbeat.missed = 4;
  c.load.static_permille = 350;
  c.listing.strategy = server::Strategy::kRoundRobin;
  c.listing.max_children = 0;
  c.listing.overload_permille = 905;
  c.admission.enabled = false;
  c.services = {"turn:127.2.0.2:50001?transport=udp", "stun:127.2.0.2:50001"};
  c.metrics_listen = Endpoint::v4(127, 1, 0, 2, 40100);
  return c;
}

TEST_CASE("server_config_yaml: the server's loader reads back every setting a node uses") {
  const server::ServerConfig in = sample_config();
  auto yaml = server_config_yaml(in, "eu-west.yaml");
  REQUIRE_MESSAGE(yaml.ok(), (yaml ? "" : yaml.error()));
  auto out = server::parse_server_config(*yaml, "eu-west.yaml", "");
  REQUIRE_MESSAGE(out.ok(), (out ? "" : out.error().front()));
  CAPTURE(*yaml);
  CHECK(out->name == in.name);
  CHECK(out->listen == in.listen);
  CHECK(out->advertise == in.advertise);
  CHECK(out->weight == 3);
  REQUIRE(out->parents.size() == 2);
  CHECK(out->parents[1].address == in.parents[1].address);
  REQUIRE(out->children.size() == 2);
  CHECK(out->children[1].name == "eu-west-2");
  CHECK(out->children[1].address == in.children[1].address);
  CHECK(out->children[1].weight == 7);
  CHECK(out->cluster.key == in.cluster.key);
  CHECK(out->heartbeat.interval == milliseconds{150});
  CHECK(out->heartbeat.missed == 4);
  CHECK(out->load.source == server::LoadSourceKind::kStatic);
  CHECK(out->load.static_permille == 350);
  CHECK(out->listing.strategy == server::Strategy::kRoundRobin);
  CHECK(out->listing.max_children == 0);
  CHECK(out->listing.overload_permille == 905);
  CHECK_FALSE(out->admission.enabled);
  CHECK(out->services == in.services);
  CHECK(out->metrics_listen == in.metrics_listen);
  CHECK(out->workers == 1);
}

TEST_CASE("server_config_yaml: a root without children or extras is valid too") {
  server::ServerConfig c;
  c.name = "solo";
  c.listen = {Endpoint::v4(127, 1, 0, 1, 40000)};
  c.services = {"turn:127.0.0.1:3478"};
  auto yaml = server_config_yaml(c, "solo.yaml");
  REQUIRE_MESSAGE(yaml.ok(), (yaml ? "" : yaml.error()));
  CHECK(yaml->find("\nparents:") == std::string::npos);
  CHECK(yaml->find("\nchildren:") == std::string::npos);
  CHECK(yaml->find("\nmetrics:") == std::string::npos);
  CHECK(yaml->find("\ncluster:") == std::string::npos);
}

TEST_CASE("server_config_yaml: what the server would refuse is refused with its position") {
  server::ServerConfig c = sample_config();
  c.heartbeat.interval = milliseconds{20};  // Topologies allow it; the server does not.
  auto yaml = server_config_yaml(c, "eu-west.yaml");
  REQUIRE_FALSE(yaml.ok());
  CHECK(yaml.error().starts_with("eu-west.yaml:"));
  CHECK(yaml.error().find("heartbeat.interval") != std::string::npos);
}

TEST_CASE("parse_node_metrics: children by name and state, and the live leaves") {
  const std::string text =
      "# HELP turnscout_children Children known to this node, by liveness state.\n"
      "turnscout_children{state=\"alive\"} 2\n"
      "# TYPE turnscout_child_state gauge\n"
      "turnscout_child_state{child=\"eu-west-1\",state=\"alive\"} 1\n"
      "turnscout_child_state{child=\"eu-west-3\",state=\"left\"} 1\n"
      "turnscout_child_state{child=\"odd\\\"name\",state=\"dead\"} 1\n"
      "turnscout_child_state{child=\"us-1\",state=\"suspect\"} 1\n"
      "turnscout_subtree_live_leaves 7\n";
  auto m = parse_node_metrics(text);
  REQUIRE_MESSAGE(m.ok(), (m ? "" : m.error()));
  CHECK(m->live_leaves == 7);
  REQUIRE(m->children.size() == 4);
  CHECK(m->children[0].first == "eu-west-1");
  CHECK(m->children[0].second == server::ChildLiveness::kAlive);
  CHECK(m->children[1].second == server::ChildLiveness::kLeft);
  CHECK(m->children[2].first == "odd\"name");
  CHECK(m->children[2].second == server::ChildLiveness::kDead);
  CHECK(m->children[3].second == server::ChildLiveness::kSuspect);

  auto no_leaves = parse_node_metrics("turnscout_child_state{child=\"a\",state=\"alive\"} 1\n");
  REQUIRE_FALSE(no_leaves.ok());
  CHECK(no_leaves.error().find("turnscout_subtree_live_leaves") != std::string::npos);
  auto bad_state = parse_node_metrics(
      "turnscout_subtree_live_leaves 1\nturnscout_child_state{child=\"a\",state=\"gone\"} 1\n");
  REQUIRE_FALSE(bad_state.ok());
  CHECK(bad_state.error().find("\"gone\"") != std::string::npos);
  CHECK_FALSE(parse_node_metrics("not metrics at all {\n").ok());
}

std::string touch(const std::filesystem::path& path, bool executable) {
  std::filesystem::create_directories(path.parent_path());
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fclose(f);
  }
  REQUIRE(chmod(path.c_str(), executable ? 0755 : 0644) == 0);
  return path.string();
}

TEST_CASE("default_server_binary: next to turnscout, else in the build tree, else an error") {
  test::TempDir dir("turnscout-binary");
  const std::filesystem::path root = dir.path();

  // Installed: bin/turnscout and bin/turnscout-server.
  const std::string installed = touch(root / "bin" / "turnscout", true);
  const std::string server = touch(root / "bin" / "turnscout-server", true);
  auto found = default_server_binary(installed);
  REQUIRE_MESSAGE(found.ok(), (found ? "" : found.error()));
  CHECK(*found == server);

  // Build tree: build/x/client/cli/turnscout and build/x/server/io/turnscout-server.
  const std::string built = touch(root / "build" / "x" / "client" / "cli" / "turnscout", true);
  const std::string built_server =
      touch(root / "build" / "x" / "server" / "io" / "turnscout-server", true);
  found = default_server_binary(built);
  REQUIRE_MESSAGE(found.ok(), (found ? "" : found.error()));
  CHECK(*found == built_server);

  // A file that cannot be executed does not count.
  const std::string lonely = touch(root / "elsewhere" / "turnscout", true);
  touch(root / "elsewhere" / "turnscout-server", false);
  found = default_server_binary(lonely);
  REQUIRE_FALSE(found.ok());
  CHECK(found.error().find("--server-binary") != std::string::npos);
  CHECK(found.error().find((root / "elsewhere" / "turnscout-server").string()) !=
        std::string::npos);
}

TEST_CASE("free_port: a port that the caller can then bind, for UDP and TCP") {
  const Endpoint ip = Endpoint::v4(127, 1, 0, 200, 0);
  for (const bool stream : {false, true}) {
    CAPTURE(stream);
    auto port = free_port(ip, stream);
    REQUIRE_MESSAGE(port.ok(), (port ? "" : port.error()));
    CHECK(*port != 0);
    Endpoint at = ip;
    at.port = *port;
    sockaddr_storage addr{};
    const socklen_t len = to_sockaddr(at, addr);
    const int fd = ::socket(AF_INET, stream ? SOCK_STREAM : SOCK_DGRAM, 0);
    REQUIRE(fd >= 0);
    CHECK(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) == 0);
    ::close(fd);
  }
  CHECK_FALSE(free_port(Endpoint{}, false).ok());
}

}  // namespace
}  // namespace turnscout::cluster
