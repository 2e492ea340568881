// End to end, failures, on real turnscout-server processes (the cluster in process mode,
// its proxies and the clients on this test's loop; loopback only, every wait bounded):
// - kill -9 of a region whose leaves also have the other region as parent, while
//   discoveries run one after another: every one of them succeeds within its deadline,
//   and the root stops listing the region within heartbeat interval × missed;
// - kill -9 of a leaf: both its parents stop listing it within interval × missed, and once
//   restarted by hand (the command from the cluster's view) it is listed again.
#include <signal.h>
#include <uv.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <turnscout/client.hpp>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "proto/constants.hpp"
#include "tests/cluster/world.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/udp_client.hpp"
#include "tools/cluster/cluster.hpp"
#include "tools/cluster/topology.hpp"

namespace turnscout::cluster::testing {
namespace {

constexpr auto kInterval = 200ms;
constexpr uint32_t kMissed = 3;
// A child that dies is dead at its parent within interval × missed of its death (see
// server/core/child_registry.hpp); on top of that a loaded machine may run the parent's
// timer and our probe late.
constexpr Clock::duration kSlack = kInterval;
constexpr Clock::duration kDropBound = kInterval * kMissed + kSlack;
// A restarted leaf heartbeats as soon as it runs, and its parents list it on the first
// heartbeat: the bound is mostly its start-up (tens of ms; slower in a sanitizer build on
// a busy machine).
constexpr Clock::duration kRelistBound = 2s;
constexpr auto kProbeEvery = 10ms;
constexpr auto kProbeTimeout = 100ms;

// A root over two regions; both leaves hang under region-a and also under region-b.
Topology failure_topology() {
  const std::string yaml = fmt::format(
      "defaults: {{heartbeat: {}, missed: {}, admission: false}}\n"
      "roots:\n"
      "  - name: root\n"
      "    link: {{delay: 2ms}}\n"
      "    children:\n"
      "      - name: region-a\n"
      "        link: {{delay: 5ms}}\n"
      "        children:\n"
      "          - {{name: leaf-1, load: 0.2, also_parents: [region-b],\n"
      "             services: [\"turn:${{proxy}}?transport=udp\"]}}\n"
      "          - {{name: leaf-2, load: 0.4, also_parents: [region-b],\n"
      "             services: [\"turn:${{proxy}}?transport=udp\"]}}\n"
      "      - name: region-b\n"
      "        link: {{delay: 5ms}}\n",
      format_duration(kInterval), kMissed);
  return parse_world(yaml);
}

// Keeps the loop turning, so conditions polled between iterations are checked often.
class Ticker {
 public:
  explicit Ticker(uv_loop_t* loop) {
    timer_ = new uv_timer_t{};
    uv_timer_init(loop, timer_);
    uv_timer_start(
        timer_, [](uv_timer_t*) {}, 5, 5);
  }
  ~Ticker() {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

 private:
  uv_timer_t* timer_;
};

// The failure topology in process mode, its node configs and logs in `dir`.
ClusterOptions process_mode(const test::TempDir& dir) {
  ClusterOptions options = World::seeded();
  options.server_binary = TURNSCOUT_SERVER_BIN;
  options.work_dir = dir.file("nodes");
  return options;
}

// Whether `server` (probed at its own address, not through its proxy) lists `child` (an
// advertised address); nullopt when it did not answer.
std::optional<bool> lists(test::UdpClient& client, const Endpoint& server, const Endpoint& child) {
  proto::ProbeRequest request;
  request.pad_to = proto::kRecommendedRequestSize;
  auto response = client.probe(server, request, kProbeTimeout);
  if (!response) return std::nullopt;
  return std::any_of(response->children.begin(), response->children.end(),
                     [&](const proto::ChildEntry& c) { return c.address == child; });
}

test::UdpClient open_client() {
  auto client = test::UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));
  REQUIRE_MESSAGE(client.ok(), (client ? "" : client.error()));
  return std::move(*client);
}

// One discovery after another, each by a new Client (no memory of earlier ones) and from
// the root down (use_last_path off): every one has to find its way around a dead region.
class Discoveries {
 public:
  struct Done {
    Clock::time_point started;
    DiscoveryResult result;
  };

  Discoveries(uv_loop_t* loop, std::vector<std::string> roots) : loop_(loop) {
    options_.roots = std::move(roots);
    options_.timeout = 2000ms;
    options_.use_last_path = false;
  }

  // Collects a finished discovery and, unless stopping, starts the next one. Call it
  // between loop iterations; true once stopping and the last one is in.
  bool pump(bool stopping) {
    if (client_ && result_) {
      finished.push_back({started_, std::move(*result_)});
      client_.reset();
      result_.reset();
    }
    if (!client_ && !stopping) {
      started_ = Clock::now();
      client_ = std::make_unique<Client>(loop_);
      client_->discover(options_, [this](DiscoveryResult r) { result_ = std::move(r); });
    }
    return !client_;
  }

  std::vector<Done> finished;

 private:
  uv_loop_t* loop_;
  DiscoverOptions options_;
  std::unique_ptr<Client> client_;
  std::optional<DiscoveryResult> result_;
  Clock::time_point started_{};
};

TEST_CASE("kill -9 of a region with redundant parents: every discovery keeps succeeding") {
  test::TempDir dir("turnscout-failure");
  World w(failure_topology(), process_mode(dir));
  w.converge();
  const NodeView root = w.view("root");
  const NodeView region = w.view("region-a");
  REQUIRE(region.pid.has_value());
  test::UdpClient prober = open_client();
  REQUIRE(lists(prober, root.node, region.proxy) == true);

  Ticker ticker(&w.loop);
  Discoveries discoveries(&w.loop, w.roots());
  // Before: discoveries through either region.
  const auto warm_up = Clock::now() + 500ms;
  w.run_until(1s, [&] {
    discoveries.pump(false);
    return Clock::now() >= warm_up;
  });

  const auto killed = Clock::now();
  REQUIRE(::kill(*region.pid, SIGKILL) == 0);
  std::optional<Clock::time_point> dropped;
  auto last_probe = Clock::now() - kProbeEvery;
  const bool root_dropped_it = w.run_until(kDropBound + 2s, [&] {
    discoveries.pump(false);
    if (Clock::now() - last_probe >= kProbeEvery) {
      last_probe = Clock::now();
      if (lists(prober, root.node, region.proxy) == false) dropped = last_probe;
    }
    return dropped.has_value();
  });
  REQUIRE(root_dropped_it);
  const auto drop_time = *dropped - killed;

  // After: one more second of discoveries, then the last one is let finish.
  const auto after = Clock::now() + 1s;
  w.run_until(2s, [&] {
    discoveries.pump(false);
    return Clock::now() >= after;
  });
  REQUIRE(w.run_until(5s, [&] { return discoveries.pump(true); }));

  MESSAGE("root stopped listing region-a " << ms_of(drop_time) << " ms after kill -9 (bound "
                                           << ms_of(kDropBound) << " ms = " << kMissed << " × "
                                           << ms_of(Clock::duration(kInterval)) << " ms + "
                                           << ms_of(kSlack) << " ms slack)");
  CHECK(drop_time <= kDropBound);
  CHECK(w.view("region-a").state == "exited");

  size_t before = 0;
  size_t during = 0;
  size_t later = 0;
  double slowest = 0;
  for (const Discoveries::Done& d : discoveries.finished) {
    const DiscoveryResult& r = d.result;
    INFO("discovery started " << ms_of(d.started - killed) << " ms after the kill: " << r.failure);
    CHECK(r.ok());
    CHECK(r.total_time <= 2000ms);
    REQUIRE(r.path.size() == 3);
    CHECK(r.path[0].name == "root");
    CHECK(r.path[2].name.starts_with("leaf-"));
    CHECK_FALSE(r.services.empty());
    if (d.started > *dropped) CHECK(r.path[1].name == "region-b");
    slowest = std::max(slowest, ms_of(r.total_time));
    (d.started < killed ? before : d.started < *dropped ? during : later) += 1;
  }
  MESSAGE(discoveries.finished.size() << " discoveries: " << before << " before the kill, "
                                      << during << " until the root dropped region-a, " << later
                                      << " after; slowest " << slowest << " ms");
  CHECK(before > 0);
  CHECK(during > 0);
  CHECK(later > 0);
}

TEST_CASE("kill -9 of a leaf: its parents drop it in time; restarted, it is listed again") {
  test::TempDir dir("turnscout-failure");
  World w(failure_topology(), process_mode(dir));
  w.converge();
  const NodeView leaf = w.view("leaf-1");
  REQUIRE(leaf.pid.has_value());
  REQUIRE(leaf.command.size() >= 2);
  const Endpoint parents[] = {w.view("region-a").node, w.view("region-b").node};
  const std::string names[] = {"region-a", "region-b"};
  test::UdpClient prober = open_client();
  for (const Endpoint& p : parents)
    REQUIRE(lists(prober, p, leaf.proxy) == true);

  Ticker ticker(&w.loop);
  const auto killed = Clock::now();
  REQUIRE(::kill(*leaf.pid, SIGKILL) == 0);
  std::optional<Clock::time_point> dropped[2];
  auto last_probe = Clock::now() - kProbeEvery;
  const bool both = w.run_until(kDropBound + 2s, [&] {
    if (Clock::now() - last_probe < kProbeEvery) return false;
    last_probe = Clock::now();
    for (size_t i = 0; i < 2; ++i) {
      if (!dropped[i] && lists(prober, parents[i], leaf.proxy) == false) dropped[i] = Clock::now();
    }
    return dropped[0] && dropped[1];
  });
  REQUIRE(both);
  for (size_t i = 0; i < 2; ++i) {
    const auto took = *dropped[i] - killed;
    MESSAGE(names[i] << " stopped listing leaf-1 " << ms_of(took) << " ms after kill -9 (bound "
                     << ms_of(kDropBound) << " ms)");
    CHECK(took <= kDropBound);
  }
  CHECK(w.run_until(5s, [&] { return w.view("leaf-1").state == "exited"; }));
  CHECK(w.view("leaf-1").exit == "signal 9 (Killed)");

  // Restarted by hand with the same command and config: same address, same ports.
  const std::vector<std::string> args(leaf.command.begin() + 1, leaf.command.end());
  const auto restarted = Clock::now();
  auto process = test::ChildProcess::spawn(leaf.command[0], args, dir.file("leaf-1.again.log"));
  REQUIRE_MESSAGE(process.ok(), (process ? "" : process.error()));
  std::optional<Clock::time_point> listed[2];
  last_probe = Clock::now() - kProbeEvery;
  const bool back = w.run_until(kRelistBound + 2s, [&] {
    if (Clock::now() - last_probe < kProbeEvery) return false;
    last_probe = Clock::now();
    for (size_t i = 0; i < 2; ++i) {
      if (!listed[i] && lists(prober, parents[i], leaf.proxy) == true) listed[i] = Clock::now();
    }
    return listed[0] && listed[1];
  });
  REQUIRE_MESSAGE(back, "output of the restarted leaf-1:\n" << process->output());
  for (size_t i = 0; i < 2; ++i) {
    const auto took = *listed[i] - restarted;
    MESSAGE(names[i] << " lists leaf-1 again " << ms_of(took) << " ms after the restart (bound "
                     << ms_of(kRelistBound) << " ms)");
    CHECK(took <= kRelistBound);
  }
  // The cluster reads its parents' metrics on: both have the new process alive.
  CHECK(w.run_until(5s, [&] { return w.view("leaf-1").parents_seeing == 2; }));

  // The test's own process: stopped by its PID (Leave to both parents, then exit 0).
  REQUIRE(process->send_signal(SIGTERM));
  auto status = process->wait(5s);
  REQUIRE(status.has_value());
  CHECK(*status == test::ExitStatus{.exited = true, .code = 0});
}

}  // namespace
}  // namespace turnscout::cluster::testing
