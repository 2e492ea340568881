// The prober against real server cores (ServerCore) on a lossy simulated network: 10% loss
// on every link in both directions, heartbeats included.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/core/prober.hpp"
#include "common/logging.hpp"
#include "server/core/server_core.hpp"
#include "server/io/log_events.hpp"
#include "tests/client/scenario.hpp"

namespace turnscout::client::testing {
namespace {

using server::ServerConfig;
using server::ServerCore;

const WallTime kWall{std::chrono::milliseconds{FakeClock::kDefaultWallStartMs}};

ServerConfig node(std::string name, const Endpoint& listen, std::vector<Endpoint> parents) {
  ServerConfig c;
  c.name = std::move(name);
  c.listen = {listen};
  c.advertise = {listen};
  for (const Endpoint& p : parents)
    c.parents.push_back({p});
  return c;
}

// root ── r1 ── l11, l12
//      └─ r2 ── l21, l22
// Admission control as configured by default (free tier: burst 20, 5 per second).
struct LossyTree {
  explicit LossyTree(uint64_t seed) : net(seed, kStart), random(seed), prober({}, random, kStart) {
    client = net.add_node(prober, {kClientV4});
    add(node("root", server(0, 1), {}), {{"r1", server(1, 1)}, {"r2", server(2, 1)}});
    add(node("r1", server(1, 1), {server(0, 1)}), {{"l11", server(1, 11)}, {"l12", server(1, 12)}});
    add(node("r2", server(2, 1), {server(0, 1)}), {{"l21", server(2, 21)}, {"l22", server(2, 22)}});
    for (const auto& [name, address, parent] : {std::tuple{"l11", server(1, 11), server(1, 1)},
                                                std::tuple{"l12", server(1, 12), server(1, 1)},
                                                std::tuple{"l21", server(2, 21), server(2, 1)},
                                                std::tuple{"l22", server(2, 22), server(2, 1)}}) {
      ServerConfig c = node(name, address, {parent});
      c.services = {"turn:192.0.2." + std::to_string(address.ip[3]) + ":3478?transport=udp"};
      c.load.static_permille = 300;
      add(std::move(c), {});
    }
    net.set_default_link({.delay = 10ms, .jitter = 4ms, .loss = 0.1});
  }

  void add(ServerConfig config, std::vector<std::pair<std::string, Endpoint>> children) {
    for (const auto& [name, address] : children) {
      config.children.push_back({name, address, 1});
    }
    const std::vector<Endpoint> listen = config.listen;
    cores.push_back(std::make_unique<ServerCore>(std::move(config), net.now(), kWall, ++core_seed,
                                                 server::log_events()));
    net.add_node(*cores.back(), listen);
  }

  std::vector<std::unique_ptr<ServerCore>> cores;  // Declared before the network: outlive it.
  sim::SimNetwork net;
  SeededRandom random;
  Prober prober;
  sim::NodeId client = 0;
  uint64_t core_seed = 100;
};

struct Tally {
  int ok = 0;
  int failed = 0;
  std::map<std::string, int> failures;
  Duration worst{};
};

Tally run_discoveries(LossyTree& t, int count, bool warm, Duration spacing) {
  Tally tally;
  DiscoverOptions o;
  o.verify = false;  // No TURN server here to answer.
  o.roots = {to_string(server(0, 1))};
  // UDP loss is what is measured; the simulated servers answer over UDP only.
  o.transport = TransportMode::kUdp;
  o.use_last_path = warm;
  for (int i = 0; i < count; ++i) {
    const TimePoint began = t.net.now();
    auto id = t.prober.start(began, o);
    REQUIRE(id.ok());
    std::optional<DiscoveryResult> r;
    REQUIRE(t.net.run_until([&] { return (r = poll_result(t.prober)).has_value(); }, began + 3s));
    if (r->ok() && r->path.size() == 3) {
      ++tally.ok;
    } else {
      ++tally.failed;
      ++tally.failures[r->failure];
    }
    tally.worst = std::max(tally.worst, r->total_time);
    t.net.run_until(began + spacing);
  }
  return tally;
}

}  // namespace

TEST_CASE("10% loss everywhere: 10,000 discoveries over a 3-level tree succeed >= 99.9%") {
  const auto wall_start = std::chrono::steady_clock::now();
  LogCapture quiet;  // Servers log their children's liveness; keep the test output short.
  LossyTree t(1);
  t.net.run_for(5s);  // Heartbeats settle.
  const Tally tally = run_discoveries(t, 10'000, /*warm=*/false, 150ms);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  MESSAGE("cold: ", tally.ok, " of 10000 succeeded; worst ", tally.worst.count() / 1000, " ms; ",
          seconds, " s of real time");
  for (const auto& [failure, n] : tally.failures)
    MESSAGE(n, " x ", failure);
  const ProberCounters& counters = t.prober.counters();
  const sim::NetworkCounters net = t.net.totals();
  MESSAGE("probes ", counters.probes_sent, ", deferred ", counters.deferred, ", late ",
          counters.late, "; datagrams sent ", net.links.sent, ", lost ", net.links.lost);
  CHECK(tally.ok >= 9'990);
  // Our mirror of each server's bucket kept us inside it: admission control dropped nothing.
  uint64_t refused = 0;
  for (const auto& core : t.cores) {
    refused += core->responder()
                   .counters()
                   .drops[static_cast<size_t>(server::DropReason::kRateLimited)]
                   .get();
  }
  CHECK(refused == 0);
  // The loss really happened, and the client made up for it by retransmitting.
  CHECK(net.links.lost >= net.links.sent / 12);
  CHECK(counters.probes_sent > 10'000 * 3 + 10'000 / 2);
  CHECK(tally.worst <= 2s);
  CHECK(t.net.errors().empty());
  CHECK(t.prober.active() == 0);
}

TEST_CASE("10% loss everywhere: warm discoveries succeed >= 99.9% too") {
  LogCapture quiet;
  LossyTree t(7);
  t.net.run_for(5s);
  const Tally tally = run_discoveries(t, 3'000, /*warm=*/true, 250ms);
  MESSAGE("warm: ", tally.ok, " of 3000 succeeded");
  for (const auto& [failure, n] : tally.failures)
    MESSAGE(n, " x ", failure);
  CHECK(tally.ok >= 2'997);
  CHECK(tally.worst <= 2s);
}

}  // namespace turnscout::client::testing
