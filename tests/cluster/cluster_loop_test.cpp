// Whole clusters in this process on one libuv loop: the demo topology converges and a
// discovery through the SDK (turnscout::Client on the same loop) picks a leaf in the
// nearest region with per-hop RTTs that match the simulated delays; a tree of 1,021 nodes
// converges and answers a discovery. Every test ends with uv_loop_close() == 0.
#include <uv.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <turnscout/client.hpp>

#include "cluster/cluster.hpp"
#include "cluster/topology.hpp"
#include "common/endpoint.hpp"
#include "common/logging.hpp"

namespace turnscout::cluster {
namespace {

using std::chrono::milliseconds;

// A loop with one cluster and one client on it, run until a condition holds or a deadline.
struct Fixture {
  explicit Fixture(Topology topology) {
    REQUIRE(init_logging("warn").ok());  // info logs every node's state changes.
    REQUIRE(uv_loop_init(&loop) == 0);
    cluster = std::make_unique<Cluster>(&loop, std::move(topology));
  }
  ~Fixture() {
    client.reset();
    if (cluster) cluster->stop();
    cluster.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  // Runs the loop until `done()` or `limit` (real time) passed; true when done.
  template <typename Done>
  bool run_until(Duration limit, Done&& done) {
    const TimePoint deadline = impair::hrtime_now() + limit;
    while (!done()) {
      if (impair::hrtime_now() >= deadline) return false;
      uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
  }

  Duration converge(Duration limit) {
    bool converged = false;
    const TimePoint start = impair::hrtime_now();
    auto started = cluster->start([&converged] { converged = true; });
    REQUIRE_MESSAGE(started.ok(), (started ? "" : started.error()));
    const bool ok = run_until(limit, [&] { return converged; });
    if (!ok) {
      for (const std::string& line : cluster->pending_links())
        MESSAGE(line);
    }
    REQUIRE(ok);
    return impair::hrtime_now() - start;
  }

  DiscoveryResult discover(DiscoverOptions options) {
    if (!client) client = std::make_unique<Client>(&loop);
    std::optional<DiscoveryResult> result;
    client->discover(options, [&result](DiscoveryResult r) { result = std::move(r); });
    REQUIRE(run_until(options.timeout + 1s, [&] { return result.has_value(); }));
    return std::move(*result);
  }

  uv_loop_t loop{};
  std::unique_ptr<Cluster> cluster;
  std::unique_ptr<Client> client;
};

Topology load_demo() {
  auto t = load_topology_file(TURNSCOUT_SOURCE_DIR "/configs/demo.yaml");
  REQUIRE_MESSAGE(t.ok(), (t ? "" : t.error().front()));
  return std::move(*t);
}

std::vector<std::string> roots_of(const Cluster& cluster) {
  std::vector<std::string> roots;
  for (const Endpoint& e : cluster.root_addresses())
    roots.push_back(to_string(e));
  return roots;
}

double ms(std::chrono::microseconds d) {
  return static_cast<double>(d.count()) / 1000.0;
}

TEST_CASE("the demo topology converges and the nearest region wins") {
  Fixture f(load_demo());
  const Duration took = f.converge(10s);
  MESSAGE("converged in " << ms(took) << " ms");
  CHECK(took < 5s);
  CHECK(f.cluster->converged());

  // The table and the state file name every node; the drained and overloaded ones say so.
  const std::string table = f.cluster->table();
  CHECK(table.find("eu-west-3") != std::string::npos);
  auto state = nlohmann::json::parse(f.cluster->state_json());
  CHECK(state["converged"] == true);
  REQUIRE(state["nodes"].size() == 15);
  REQUIRE(state["roots"].size() == 1);
  for (const auto& n : state["nodes"]) {
    if (n["name"] == "eu-west-3") CHECK(n["state"] == "drained");
    if (n["name"] == "us-east-1") CHECK(n["state"] == "overloaded");
    if (n["name"] == "eu-west-1") {
      CHECK(n["parents"] == nlohmann::json::array({"eu-west"}));
      CHECK(n["delay_ms"] == 15.0);
    }
  }

  DiscoverOptions options;
  options.roots = roots_of(*f.cluster);
  options.timeout = 3000ms;
  options.verify = true;
  options.use_last_path = false;
  // RTT through a proxy = 2 × delay + up to 2 × jitter, plus a little of our own time. A
  // busy machine adds scheduling delays to single samples, so the best of five is checked.
  const double expected[] = {20.0, 30.0, 30.0};
  const double jitter[] = {1.0, 2.0, 2.0};
  double best[] = {1e9, 1e9, 1e9};
  for (int i = 0; i < 5; ++i) {
    DiscoveryResult r = f.discover(options);
    REQUIRE_MESSAGE(r.ok(), r.failure);
    REQUIRE(r.path.size() == 3);
    CHECK(r.path[0].name == "global");
    CHECK(r.path[1].name == "eu-west");
    const std::string leaf = r.path[2].name;
    CHECK((leaf == "eu-west-1" || leaf == "eu-west-2"));
    CHECK(r.verification.state == VerifyState::kVerified);
    for (size_t hop = 0; hop < 3; ++hop) {
      const double rtt = ms(r.path[hop].rtt);
      INFO("hop " << hop << " " << r.path[hop].name << " rtt " << rtt << " ms");
      CHECK(rtt >= expected[hop] - 0.5);
      best[hop] = std::min(best[hop], rtt);
    }
  }
  for (size_t hop = 0; hop < 3; ++hop) {
    INFO("hop " << hop << " best rtt " << best[hop] << " ms");
    CHECK(best[hop] <= expected[hop] + jitter[hop] + 2.0);
  }
}

// 1 root, 20 regions, 50 leaves each: 1,021 virtual nodes and as many proxies in this
// process.
Topology scale_topology() {
  std::string yaml =
      "defaults: {heartbeat: 1s, missed: 3, admission: false}\n"
      "roots:\n"
      "  - name: root\n"
      "    link: {delay: 1ms}\n"
      "    children:\n";
  for (int region = 0; region < 20; ++region) {
    yaml += fmt::format(
        "      - name: region-{}\n        link: {{delay: {}ms}}\n"
        "        children:\n",
        region, 2 + region);
    for (int leaf = 0; leaf < 50; ++leaf) {
      yaml += fmt::format(
          "          - {{name: leaf-{}-{}, load: 0.{}, services: [\"turn:${{proxy}}\"]}}\n", region,
          leaf, 10 + leaf);
    }
  }
  auto t = parse_topology(yaml, "scale.yaml");
  REQUIRE_MESSAGE(t.ok(), (t ? "" : t.error().front()));
  return std::move(*t);
}

TEST_CASE("scale smoke: 1 root, 20 regions, 1,000 leaves converge; a discovery succeeds") {
  REQUIRE(raise_fd_limit().ok());
  Fixture f(scale_topology());
  REQUIRE(f.cluster->topology().nodes.size() == 1021);
  const Duration took = f.converge(40s);
  MESSAGE("1,021 nodes converged in " << ms(took) << " ms");

  DiscoverOptions options;
  options.roots = roots_of(*f.cluster);
  options.timeout = 5000ms;
  DiscoveryResult r = f.discover(options);
  REQUIRE_MESSAGE(r.ok(), r.failure);
  REQUIRE(r.path.size() == 3);
  const std::string region = r.path[1].name;
  CHECK(region.starts_with("region-"));
  CHECK(r.path[2].name.starts_with("leaf-" + region.substr(7) + "-"));
}

}  // namespace
}  // namespace turnscout::cluster
