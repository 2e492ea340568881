// Shared by the cluster and end-to-end tests: a cluster (virtual nodes or node processes)
// on a libuv loop that the tests' SDK clients share, and helpers for measuring what they
// see.
#pragma once

#include <uv.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <turnscout/client.hpp>

#include "base/endpoint.hpp"
#include "common/logging.hpp"
#include "tools/cluster/cluster.hpp"
#include "tools/cluster/topology.hpp"

namespace turnscout::cluster::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline double ms_of(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

inline double ms_of(std::chrono::microseconds d) {
  return static_cast<double>(d.count()) / 1000.0;
}

inline Topology parse_world(const std::string& yaml) {
  auto t = parse_topology(yaml, "e2e.yaml");
  REQUIRE_MESSAGE(t.ok(), (t ? "" : t.error().front()));
  return std::move(*t);
}

inline double median(std::vector<double> v) {
  REQUIRE(!v.empty());
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

// One loop with a seeded cluster on it; the tests put their clients on the same loop.
struct World {
  static ClusterOptions seeded() {
    ClusterOptions options;
    options.seed = 20240601;
    return options;
  }
  // The same, behind proxies that drop every datagram (a network that blocks UDP).
  static ClusterOptions udp_blocked() {
    ClusterOptions options = seeded();
    options.block_udp = true;
    return options;
  }

  explicit World(Topology topology, ClusterOptions options = seeded()) {
    REQUIRE(init_logging("warn").ok());
    REQUIRE(uv_loop_init(&loop) == 0);
    cluster = std::make_unique<Cluster>(&loop, std::move(topology), options);
  }
  // Stops the cluster as its runner does (node processes get SIGTERM, then the proxies
  // close), then checks that nothing was left on the loop.
  ~World() {
    client.reset();
    if (cluster && !stopped) stop();
    cluster.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Runs the loop until `done()` or `limit` (real time) passed; true when done.
  template <typename Done>
  bool run_until(Clock::duration limit, Done&& done) {
    const auto deadline = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
  }

  // Starts the cluster and runs the loop until it has converged; returns how long it took.
  // The default limit is generous: a sanitizer build on a busy machine starts processes
  // slowly.
  Clock::duration converge(Clock::duration limit = 30s) {
    bool converged = false;
    const auto start = Clock::now();
    auto started = cluster->start([&converged] { converged = true; });
    REQUIRE_MESSAGE(started.ok(), (started ? "" : started.error()));
    const bool ok = run_until(limit, [&] { return converged; });
    if (!ok) {
      for (const std::string& line : cluster->pending_links())
        MESSAGE(line);
    }
    REQUIRE(ok);
    const auto took = Clock::now() - start;
    MESSAGE("converged in " << ms_of(took) << " ms");
    return took;
  }

  // stop(), with the loop run until the cluster says everything is closed.
  void stop() {
    bool closed = false;
    const auto start = Clock::now();
    stopped = true;
    cluster->stop([&closed] { closed = true; });
    // SIGTERM, at most kStopGrace until SIGKILL, then the proxies close.
    CHECK(run_until(Cluster::kStopGrace + 5s, [&] { return closed; }));
    MESSAGE("stopped in " << ms_of(Clock::now() - start) << " ms");
  }

  // The node called `name`; the test fails when there is none.
  NodeView view(const std::string& name) const {
    for (NodeView& v : cluster->nodes()) {
      if (v.name == name) return v;
    }
    FAIL("no node " << name);
    return {};
  }

  std::vector<std::string> roots() const {
    std::vector<std::string> out;
    for (const Endpoint& e : cluster->root_addresses())
      out.push_back(to_string(e));
    return out;
  }  // A cold discovery of this world: its roots, no last path to re-check first.
  DiscoverOptions cold_options() const {
    DiscoverOptions options;
    options.roots = roots();
    options.use_last_path = false;
    return options;
  }

  // One discovery by `by` on this loop, waited for up to its timeout and a second more.
  DiscoveryResult discover(Client& by, const DiscoverOptions& options) {
    std::optional<DiscoveryResult> result;
    by.discover(options, [&result](DiscoveryResult r) { result = std::move(r); });
    REQUIRE(run_until(options.timeout + 1s, [&] { return result.has_value(); }));
    return std::move(*result);
  }

  // The same with the world's own Client, made on first use and kept between discoveries.
  DiscoveryResult discover(const DiscoverOptions& options) {
    if (!client) client = std::make_unique<Client>(&loop);
    return discover(*client, options);
  }

  uv_loop_t loop{};
  std::unique_ptr<Cluster> cluster;
  std::unique_ptr<Client> client;
  bool stopped = false;
};

}  // namespace turnscout::cluster::testing
