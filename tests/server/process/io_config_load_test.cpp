// The config as the running server sees it (bound ports, restart-only settings), the load
// sources read from files, and the I/O layer's metric families.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "base/endpoint.hpp"
#include "server/io/bound_config.hpp"
#include "server/io/io_metrics.hpp"
#include "server/io/load_sampler.hpp"
#include "tests/support/temp_dir.hpp"

namespace turnscout::server {
namespace {

Endpoint ep(const char* text) {
  return *parse_endpoint(text);
}

constexpr const char* kNetDevHeader =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n";

std::string net_dev(uint64_t eth_rx, uint64_t eth_tx) {
  return std::string(kNetDevHeader) + "    lo: 999999 10 0 0 0 0 0 0 999999 10 0 0 0 0 0 0\n" +
         "  eth0: " + std::to_string(eth_rx) + " 50 0 0 0 0 0 0 " + std::to_string(eth_tx) +
         " 60 0 0 0 0 0 0\n";
}

}  // namespace

TEST_CASE("with_bound_ports gives port-0 listen and advertise addresses the real port") {
  ServerConfig c;
  c.listen = {ep("127.0.0.1:0"), ep("[::1]:3479")};
  c.advertise = {ep("127.0.0.1:0"), ep("[::1]:3479"), ep("192.0.2.1:0")};
  const ServerConfig bound =
      with_bound_ports(c, std::vector{ep("127.0.0.1:40001"), ep("[::1]:3479")});
  CHECK(bound.listen == std::vector{ep("127.0.0.1:40001"), ep("[::1]:3479")});
  // Only the copy of the port-0 listen address changes.
  CHECK(bound.advertise == std::vector{ep("127.0.0.1:40001"), ep("[::1]:3479"), ep("192.0.2.1:0")});
}

TEST_CASE("keep_restart_only_settings keeps listen, workers and metrics and says so") {
  ServerConfig running;
  running.listen = {ep("127.0.0.1:0")};
  running.workers = 2;
  running.metrics_listen = ep("127.0.0.1:9469");
  ServerConfig next = running;
  next.listing.max_children = 3;
  CHECK(keep_restart_only_settings(running, next).empty());
  CHECK(next.listing.max_children == 3);

  next.listen = {ep("127.0.0.1:5000")};
  next.workers = 4;
  next.metrics_listen.reset();
  const auto ignored = keep_restart_only_settings(running, next);
  REQUIRE(ignored.size() == 3);
  CHECK(ignored[0] == "node.listen (127.0.0.1:0 → 127.0.0.1:5000)");
  CHECK(ignored[1] == "workers (2 → 4)");
  CHECK(ignored[2] == "metrics.listen (127.0.0.1:9469 → off)");
  CHECK(next.listen == running.listen);
  CHECK(next.workers == 2);
  CHECK(next.metrics_listen == running.metrics_listen);
}

TEST_CASE("LoadSampler: host load is the busier of CPU and network since the last reading") {
  test::TempDir proc("turnscout-proc");
  std::filesystem::create_directory(proc.file("net"));
  LoadConfig config;
  config.source = LoadSourceKind::kHost;
  config.capacity_mbps = 1;  // 125000 bytes/s.
  LoadSampler sampler(config, proc.path());

  proc.write("stat", "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\n");
  proc.write("net/dev", net_dev(5000, 6000));
  const TimePoint t0{std::chrono::seconds{10}};
  auto first = sampler.sample(t0);
  REQUIRE(first.ok());
  CHECK_FALSE(first->has_value());  // A baseline only.

  // One second later: CPU 20% busy, the network at 50% of 1 Mbit/s (62500 bytes).
  proc.write("stat", "cpu  200 0 200 1600 0 0 0 0 0 0\n");
  proc.write("net/dev", net_dev(5000 + 30000, 6000 + 32500));
  auto second = sampler.sample(t0 + std::chrono::seconds{1});
  REQUIRE(second.ok());
  CHECK(second->value() == 500);

  proc.write("stat", "cpu  nonsense\n");
  auto broken = sampler.sample(t0 + std::chrono::seconds{2});
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().find(proc.file("stat")) == 0);
}

TEST_CASE("LoadSampler: a load file is read on every sample; errors name the file") {
  test::TempDir dir("turnscout-load");
  LoadConfig config;
  config.source = LoadSourceKind::kFile;
  config.file = dir.file("load");
  LoadSampler sampler(config);
  auto missing = sampler.sample(TimePoint{});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().find(config.file) != std::string::npos);

  dir.write("load", "0.42\n");
  CHECK(sampler.sample(TimePoint{})->value() == 420);
  dir.write("load", "75%");
  CHECK(sampler.sample(TimePoint{})->value() == 750);
  dir.write("load", "busy");
  auto bad = sampler.sample(TimePoint{});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().find(config.file + ": ") == 0);
  dir.write("load", std::string(5000, '1'));
  CHECK_FALSE(sampler.sample(TimePoint{}).ok());

  LoadConfig fixed;
  fixed.source = LoadSourceKind::kStatic;
  sampler.reconfigure(fixed);
  CHECK_FALSE(sampler.sample(TimePoint{})->has_value());
}

TEST_CASE("render_io_metrics writes one sample per worker under HELP and TYPE") {
  IoCounters w0;
  IoCounters w1;
  w0.udp.received.add(5);
  w1.udp.send_dropped.add(2);
  const std::vector<const IoCounters*> workers{&w0, &w1};
  const std::string text = render_io_metrics(workers);
  CHECK(text.find("# TYPE turnscout_io_datagrams_received_total counter\n"
                  "turnscout_io_datagrams_received_total{worker=\"0\"} 5\n"
                  "turnscout_io_datagrams_received_total{worker=\"1\"} 0\n") != std::string::npos);
  CHECK(text.find("turnscout_io_send_dropped_total{worker=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("# HELP turnscout_io_forward_dropped_total ") != std::string::npos);
}

}  // namespace turnscout::server
