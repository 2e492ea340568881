// The cluster in process mode: every node a real turnscout-server process. A small tree
// with a draining and an overloaded leaf converges; the views name each process (pid,
// config, command); a discovery goes through it; a node killed from outside shows up as
// exited and is dropped by its parent; stop() leaves no process (not even a zombie) and no
// temporary directory behind; start() failures are clean. Every test ends with
// uv_loop_close() == 0.
#include <signal.h>
#include <uv.h>

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <turnscout/client.hpp>

#include "base/endpoint.hpp"
#include "common/logging.hpp"
#include "tests/cluster/world.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/cluster/cluster.hpp"
#include "tools/cluster/topology.hpp"

namespace turnscout::cluster::testing {
namespace {

constexpr const char* kTree = R"(
defaults: {heartbeat: 100ms, missed: 3, overload: 0.9, admission: false}
roots:
  - name: root
    link: {delay: 1ms}
    children:
      - name: region
        children:
          - {name: leaf-1, load: 0.3, services: ["turn:${proxy}?transport=udp"]}
          - {name: leaf-2, load: 0.95, services: ["turn:${proxy}?transport=udp"]}
          - {name: leaf-3, state: draining, services: ["turn:${proxy}?transport=udp"]}
)";

// True when no process `pid` exists any more: neither running nor an unreaped zombie.
bool gone(int pid) {
  return ::kill(pid, 0) == -1 && errno == ESRCH;
}

// World in process mode.
struct Fixture : World {
  static ClusterOptions with_server(ClusterOptions options) {
    if (options.server_binary.empty()) options.server_binary = TURNSCOUT_SERVER_BIN;
    return options;
  }
  explicit Fixture(Topology topology, ClusterOptions options = {})
      : World(std::move(topology), with_server(std::move(options))) {}
};

TEST_CASE("process mode: a tree of turnscout-server processes converges and stops clean") {
  Fixture f(parse_world(kTree));
  f.converge();
  CHECK(f.cluster->converged());
  const std::string work_dir = f.cluster->work_dir();
  CHECK(std::filesystem::is_directory(work_dir));

  // Every node but the drained one runs, with its own config and the command that started it.
  auto state = nlohmann::json::parse(f.cluster->state_json());
  CHECK(state["converged"] == true);
  REQUIRE(state["nodes"].size() == 5);
  std::vector<int> pids;
  for (const auto& n : state["nodes"]) {
    INFO(n.dump());
    const std::string name = n["name"];
    REQUIRE(n["config"].is_string());
    CHECK(std::filesystem::exists(n["config"].get<std::string>()));
    CHECK(n["command"] == nlohmann::json::array({TURNSCOUT_SERVER_BIN, "--config", n["config"],
                                                 "--exit-with-parent"}));
    if (name == "leaf-3") {
      // Drained: SIGTERM once its parent had it, Leave sent, process ended by itself.
      CHECK(n["state"] == "drained");
      CHECK(n["pid"].is_null());
      CHECK(n["exit"] == "exit code 0");
      continue;
    }
    REQUIRE(n["pid"].is_number_integer());
    CHECK(n["exit"].is_null());
    pids.push_back(n["pid"].get<int>());
    CHECK(n["state"] == (name == "leaf-2" ? "overloaded" : "active"));
  }
  REQUIRE(pids.size() == 4);
  for (int pid : pids)
    CHECK_FALSE(gone(pid));
  CHECK(f.cluster->table().find("PID") != std::string::npos);
  CHECK(f.view("leaf-1").parents_seeing == 1);
  CHECK(f.view("leaf-3").parents_seeing == 0);

  // Through the proxies to the only leaf that is neither overloaded nor drained.
  DiscoverOptions options;
  options.roots = f.roots();
  options.timeout = 2000ms;
  const DiscoveryResult result = f.discover(options);
  REQUIRE_MESSAGE(result.ok(), result.failure);
  REQUIRE(result.path.size() == 3);
  CHECK(result.path[2].name == "leaf-1");

  f.stop();
  for (int pid : pids)
    CHECK_MESSAGE(gone(pid), "pid " << pid << " is still there");
  CHECK_FALSE(std::filesystem::exists(work_dir));  // A temporary directory of its own.
  for (const NodeView& v : f.cluster->nodes()) {
    CHECK_FALSE(v.pid.has_value());
    CHECK_FALSE(v.exit.empty());
  }
}

TEST_CASE("process mode: a node killed from outside is shown exited; its parent drops it") {
  test::TempDir dir("turnscout-processes");
  ClusterOptions options;
  options.work_dir = dir.file("nodes");
  Fixture f(parse_world(kTree), options);
  f.converge();
  NodeView leaf = f.view("leaf-1");
  REQUIRE(leaf.pid.has_value());
  CHECK(leaf.parents_seeing == 1);
  REQUIRE(::kill(*leaf.pid, SIGKILL) == 0);

  // The exit is noticed at once; the parent declares it dead within 3 × 100 ms, and the
  // cluster reads the parent's metrics every heartbeat interval.
  CHECK(f.run_until(10s, [&] { return f.view("leaf-1").state == "exited"; }));
  leaf = f.view("leaf-1");
  CHECK(leaf.exit == "signal 9 (Killed)");
  CHECK_FALSE(leaf.pid.has_value());
  CHECK(f.cluster->table().find("exited") != std::string::npos);
  CHECK(f.run_until(10s, [&] { return f.view("leaf-1").parents_seeing == 0; }));
  CHECK(f.view("leaf-2").parents_seeing == 1);  // The others are unaffected.

  f.stop();
  // A work directory given by the caller is kept, with every node's config and log.
  for (const char* name : {"root", "region", "leaf-1", "leaf-2", "leaf-3"}) {
    CHECK(std::filesystem::exists(dir.file(std::string("nodes/") + name + ".yaml")));
    CHECK(std::filesystem::exists(dir.file(std::string("nodes/") + name + ".log")));
  }
  CHECK(test::read_file(dir.file("nodes/root.log")).find("turnscout-server") != std::string::npos);
}

TEST_CASE("process mode: a draining branch leaves, and the tree converges without it") {
  Fixture f(parse_world(R"(
defaults: {heartbeat: 100ms, missed: 3, admission: false}
roots:
  - name: root
    children:
      - name: branch
        state: draining
        children:
          - {name: under-branch, services: ["turn:${proxy}"]}
      - {name: leaf, services: ["turn:${proxy}"]}
)"));
  f.converge();
  CHECK(f.view("branch").state == "drained");
  CHECK(f.view("branch").exit == "exit code 0");
  CHECK(f.view("leaf").parents_seeing == 1);
  // Its child runs on, with no parent left to list it.
  CHECK(f.view("under-branch").state == "active");
  CHECK(f.view("under-branch").parents_seeing == 0);
}

TEST_CASE("process mode: start() failures are reported and leave nothing behind") {
  SUBCASE("a binary that does not exist") {
    ClusterOptions options;
    options.server_binary = "/nonexistent/turnscout-server";
    Fixture f(parse_world(kTree), options);
    auto started = f.cluster->start();
    REQUIRE_FALSE(started.ok());
    CHECK(started.error().find("/nonexistent/turnscout-server") != std::string::npos);
    CHECK(f.cluster->work_dir().empty() == false);
    CHECK_FALSE(std::filesystem::exists(f.cluster->work_dir()));
  }
  SUBCASE("a topology the server would refuse: 20ms heartbeats") {
    Fixture f(parse_world(
        "defaults: {heartbeat: 20ms}\nroots:\n  - {name: r, services: [\"turn:${proxy}\"]}\n"));
    auto started = f.cluster->start();
    REQUIRE_FALSE(started.ok());
    CHECK(started.error().find("heartbeat.interval") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(f.cluster->work_dir()));
  }
  SUBCASE("processes that end at once are shown exited, and the cluster still stops") {
    ClusterOptions options;
    options.server_binary = "false";  // Looked up in PATH; exits 1 whatever its arguments.
    Fixture f(parse_world(kTree), options);
    REQUIRE(f.cluster->start().ok());
    CHECK(f.run_until(10s, [&] {
      for (const NodeView& v : f.cluster->nodes()) {
        if (v.state != "exited") return false;
      }
      return true;
    }));
    CHECK(f.view("root").exit == "exit code 1");
    CHECK_FALSE(f.cluster->converged());
  }
}

}  // namespace
}  // namespace turnscout::cluster::testing
