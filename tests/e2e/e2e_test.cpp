// End to end on in-process clusters (loopback only, seeded impairments, bounded by loop
// deadlines): a demo-like world where the nearest region always wins and every hop's RTT
// matches the simulated round trip, and the same world with 10 % loss each way on every
// link, where at least 99.9 % of 1,000 discoveries succeed within their 2 s deadline.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <turnscout/client.hpp>

#include "base/endpoint.hpp"
#include "tests/cluster/world.hpp"
#include "tests/support/certificate.hpp"
#include "tests/support/temp_dir.hpp"

namespace turnscout::cluster::testing {
namespace {

// The shape of configs/demo.yaml: admission off (no per-client rate limit while probing in
// bulk) and short heartbeats. `link` overrides every node's link when not empty.
std::string world_yaml(const std::string& link) {
  auto l = [&link](const char* own) { return link.empty() ? std::string(own) : link; };
  return fmt::format(
      "defaults: {{heartbeat: 100ms, missed: 3, strategy: least-load, overload: 0.9, "
      "admission: false}}\n"
      "roots:\n"
      "  - name: global\n"
      "    link: {}\n"
      "    load: 0.05\n"
      "    children:\n"
      "      - name: eu-west\n"
      "        link: {}\n"
      "        load: 0.1\n"
      "        children:\n"
      "          - {{name: eu-west-1, load: 0.35, services: [\"turn:${{proxy}}?transport=udp\"]}}\n"
      "          - {{name: eu-west-2, load: 0.62, services: [\"turn:${{proxy}}?transport=udp\"]}}\n"
      "          - {{name: eu-west-3, load: 0.2, state: draining,\n"
      "             services: [\"turn:${{proxy}}?transport=udp\"]}}\n"
      "      - name: us-east\n"
      "        link: {}\n"
      "        load: 0.15\n"
      "        children:\n"
      "          - {{name: us-east-1, load: 0.95, services: [\"turn:${{proxy}}?transport=udp\"]}}\n"
      "          - {{name: us-east-2, load: 0.48, services: [\"turn:${{proxy}}?transport=udp\"]}}\n"
      "      - name: sa-east\n"
      "        link: {}\n"
      "        load: 0.1\n"
      "        children:\n"
      "          - {{name: sa-east-1, load: 0.22, services: [\"turn:${{proxy}}?transport=udp\"]}}\n"
      "          - {{name: sa-east-2, load: 0.71, services: "
      "[\"turn:${{proxy}}?transport=udp\"]}}\n",
      l("{delay: 10ms, jitter: 0.5ms}"), l("{delay: 15ms, jitter: 1ms}"),
      l("{delay: 40ms, jitter: 2ms}"), l("{delay: 60ms, jitter: 3ms}"));
}

// The same world with every leaf offering TURN over TCP as well as over UDP.
std::string with_tcp_services(std::string yaml) {
  const std::string udp_only = "?transport=udp\"]";
  for (size_t at = 0; (at = yaml.find(udp_only, at)) != std::string::npos;) {
    yaml.replace(at, udp_only.size(), "?transport=udp\", \"turn:${proxy}?transport=tcp\"]");
    at += udp_only.size();
  }
  return yaml;
}

// Ten cold discoveries on fresh clients, each checked by `check`; then their median time
// against `expected` ms (it may be up to `slack` ms more: the proxies' timers and the loop).
template <typename Check>
void check_median_time(World& w, const DiscoverOptions& options, double expected, double slack,
                       const char* what, Check&& check) {
  std::vector<double> totals;
  for (int i = 0; i < 10; ++i) {
    Client client(&w.loop);
    const DiscoveryResult r = w.discover(client, options);
    INFO("discovery " << i);
    REQUIRE_MESSAGE(r.ok(), r.failure);
    check(r);
    totals.push_back(ms_of(r.total_time));
  }
  const double med = median(totals);
  MESSAGE(std::string(what) << ": median discovery " << med << " ms, expected about " << expected
                            << " ms");
  CHECK(med >= expected);
  CHECK(med <= expected + slack);
}

TEST_CASE("nearest wins: 100 discoveries pick eu-west, per-hop RTTs match the links") {
  World w(parse_world(world_yaml("")));
  w.converge();

  // The draining leaf has left its parent, the overloaded one is alive but not offered.
  for (const NodeView& n : w.cluster->nodes()) {
    INFO(n.name << " state " << n.state);
    if (n.name == "eu-west-3") {
      CHECK(n.state == "drained");
      CHECK(n.parents_seeing == 0);
    }
    if (n.name == "us-east-1") CHECK(n.state == "overloaded");
  }

  DiscoverOptions options;
  options.roots = w.roots();
  options.timeout = 2000ms;
  options.verify = true;
  options.use_last_path = false;  // A full descent every time.

  // Round trip = 2 × delay + up to 2 × jitter (global, eu-west, its leaves).
  const double low[] = {20.0, 30.0, 30.0};
  const double high[] = {21.0, 32.0, 32.0};
  const std::string names[] = {"global", "eu-west", "leaf"};
  std::vector<double> rtts[3];
  // Distance of a sample from the simulated window [low, high]; 0 inside it.
  auto error_of = [&](size_t hop, double rtt) {
    return rtt < low[hop] ? low[hop] - rtt : (rtt > high[hop] ? rtt - high[hop] : 0.0);
  };

  const auto start = Clock::now();
  for (int i = 0; i < 100; ++i) {
    Client client(&w.loop);
    const DiscoveryResult r = w.discover(client, options);
    INFO("discovery " << i);
    REQUIRE_MESSAGE(r.ok(), r.failure);
    REQUIRE(r.path.size() == 3);
    CHECK(r.path[0].name == "global");
    CHECK(r.path[1].name == "eu-west");
    const std::string& leaf = r.path[2].name;
    CHECK((leaf == "eu-west-1" || leaf == "eu-west-2"));
    CHECK(leaf != "us-east-1");
    CHECK(leaf != "eu-west-3");
    CHECK(r.verification.state == VerifyState::kVerified);
    for (const Service& s : r.services)
      CHECK((s.node_name == "eu-west-1" || s.node_name == "eu-west-2"));
    for (const Service& s : r.backups) {
      CHECK(s.node_name != "eu-west-3");
      CHECK(s.node_name != "us-east-1");
    }
    for (size_t hop = 0; hop < 3; ++hop) {
      const double rtt = ms_of(r.path[hop].rtt);
      // Nothing arrives before the simulated delay has passed.
      CHECK_MESSAGE(rtt >= low[hop] - 0.5, "hop " << hop << " rtt " << rtt << " ms");
      rtts[hop].push_back(rtt);
    }
  }
  MESSAGE("100 discoveries in " << ms_of(Clock::now() - start) << " ms");

  for (size_t hop = 0; hop < 3; ++hop) {
    const double med = median(rtts[hop]);
    double max_error = 0.0;
    for (double rtt : rtts[hop])
      max_error = std::max(max_error, error_of(hop, rtt));
    MESSAGE("hop " << hop << " (" << names[hop] << "): median rtt " << med << " ms, expected "
                   << low[hop] << "-" << high[hop] << " ms, median error " << error_of(hop, med)
                   << " ms, max error " << max_error << " ms");
    // Single samples can be late on a loaded machine; the median must be within 2 ms.
    CHECK(error_of(hop, med) <= 2.0);
  }
}

TEST_CASE("speculative descent: a 3-level tree in 2 round trips, level by level in 3") {
  World w(parse_world(world_yaml("")));
  w.converge();
  DiscoverOptions options = w.cold_options();
  options.verify = false;  // The descent alone: root 20 ms, eu-west and its leaves 30 ms.
  const auto nearest = [](const DiscoveryResult& r) {
    REQUIRE(r.path.size() == 3);
    const std::string& leaf = r.path[2].name;
    CHECK((leaf == "eu-west-1" || leaf == "eu-west-2"));
  };
  check_median_time(w, options, 20.0 + 30.0, 15.0, "speculative", [&](const auto& r) {
    nearest(r);
    CHECK(r.round_trips == 2);
    CHECK(r.path[1].speculative);
    CHECK(r.path[2].depth == 2);
  });
  options.speculate = false;
  check_median_time(w, options, 20.0 + 30.0 + 30.0, 15.0, "level by level", [&](const auto& r) {
    nearest(r);
    CHECK(r.round_trips == 3);
    CHECK(r.path[1].name == "eu-west");
    CHECK_FALSE(r.path[1].speculative);
  });
}

TEST_CASE("speculative descent: a mixed tree, eu-west on the old behaviour, still finds it") {
  // eu-west neither tells the root of its leaves nor answers depth 2: the root lists it
  // without grandchildren, the other regions with theirs.
  std::string yaml = world_yaml("");
  const std::string region = "      - name: eu-west\n";
  REQUIRE(yaml.find(region) != std::string::npos);
  yaml.replace(yaml.find(region), region.size(), region + "        grandchildren: false\n");
  World w(parse_world(yaml));
  w.converge();
  DiscoverOptions options = w.cold_options();
  options.verify = false;
  // Round 2 probes eu-west with the other regions' leaves (80 ms and more away). eu-west
  // answers as a branch after 30 ms, naming its leaves, which join the round then and
  // answer 30 ms later, before any other: 20 + 30 + 30 ms, the time of a level-by-level
  // walk, with the same choice.
  check_median_time(w, options, 80.0, 15.0, "mixed", [](const auto& r) {
    REQUIRE(r.path.size() == 3);
    CHECK(r.path[1].name == "eu-west");
    const std::string& leaf = r.path[2].name;
    CHECK((leaf == "eu-west-1" || leaf == "eu-west-2"));
  });
  // The same tree walked level by level: the same leaves, the same time.
  options.speculate = false;
  check_median_time(w, options, 80.0, 15.0, "mixed, level by level", [](const auto& r) {
    REQUIRE(r.path.size() == 3);
    CHECK(r.path[1].name == "eu-west");
    CHECK(r.round_trips == 3);
  });
}

TEST_CASE("loss: 10 % each way on every link, >= 99.9 % of 1,000 discoveries succeed") {
  World w(parse_world(world_yaml("{delay: 3ms, jitter: 0ms, loss: 0.1}")));
  w.converge();

  DiscoverOptions options;
  options.roots = w.roots();
  options.timeout = 2000ms;
  options.use_last_path = false;
  // The root is the one server every discovery needs. A probe's round trip is lost with
  // probability 1 - 0.9² = 0.19, so with the default 5 attempts a discovery fails at the
  // root with probability 0.19⁵ ≈ 2.5e-4: 99.975 % expected, but 2 or more failures in
  // 1,000 about 1 run in 40. Up to 10 attempts (the RTO schedule fits about 7 in the 2 s
  // deadline: 0.19⁷ ≈ 9e-6) keeps the check about the system, not about sampling noise.
  options.max_attempts = 10;

  constexpr int kTotal = 1000;
  constexpr size_t kConcurrent = 8;
  // One Client per discovery, as 1,000 separate callers would be. (With admission off the
  // servers announce no limit, so a shared Client would not hold requests back either.)
  struct Slot {
    std::unique_ptr<Client> client;
    std::optional<DiscoveryResult> result;
  };
  std::vector<Slot> slots(kConcurrent);
  int started = 0;
  int finished = 0;
  int ok = 0;
  double slowest = 0.0;
  std::vector<std::string> failures;
  auto record = [&](const DiscoveryResult& r) {
    ++finished;
    slowest = std::max(slowest, ms_of(r.total_time));
    if (r.ok() && r.total_time <= options.timeout) {
      ++ok;
      CHECK(r.path.size() == 3);
      return;
    }
    if (failures.size() >= 10) return;
    std::string line = fmt::format("{} after {} ms", r.failure, ms_of(r.total_time));
    for (const PeerError& e : r.errors)
      line += "; " + to_string(e);
    failures.push_back(line);
  };

  const auto start = Clock::now();
  // Driven from the loop's runner: a finished slot is recorded, its Client destroyed and,
  // while discoveries remain, a new one started in it.
  const bool all = w.run_until(120s, [&] {
    for (Slot& slot : slots) {
      if (slot.client && slot.result) {
        record(*slot.result);
        slot.client.reset();
        slot.result.reset();
      }
      if (!slot.client && started < kTotal) {
        ++started;
        slot.client = std::make_unique<Client>(&w.loop);
        slot.client->discover(options, [&slot](DiscoveryResult r) { slot.result = std::move(r); });
      }
    }
    return finished == kTotal;
  });
  const double took = ms_of(Clock::now() - start);
  slots.clear();
  MESSAGE(ok << " of " << kTotal << " discoveries succeeded (started " << started << ", finished "
             << finished << ") in " << took << " ms; slowest " << slowest << " ms");
  for (const std::string& f : failures)
    MESSAGE("failure: " << f);
  REQUIRE(all);
  CHECK(ok >= 999);
}

TEST_CASE("UDP blocked: cold discoveries get through over TCP, TURN over TCP first") {
  // The leaves offer TURN over UDP and over TCP; the proxies drop every datagram.
  const std::string yaml = with_tcp_services(world_yaml(""));
  World w(parse_world(yaml), World::udp_blocked());
  w.converge();

  DiscoverOptions options;
  options.roots = w.roots();
  options.timeout = 2000ms;
  options.use_last_path = false;
  // The fallback delay, then per round a handshake and a request, 2 x (20 + 30) ms (the
  // root; then eu-west and its leaves at once, speculative descent), then the Binding to
  // the leaf's TURN server over the same connection, 30 ms.
  check_median_time(w, options, 250.0 + 100.0 + 30.0, 50.0, "UDP blocked", [](const auto& r) {
    CHECK(r.transport == "tcp");
    REQUIRE(r.path.size() == 3);
    CHECK(r.path[1].name == "eu-west");
    for (const Hop& hop : r.path)
      CHECK(hop.transport == "tcp");
    REQUIRE(r.services.size() == 2);
    CHECK(r.services[0].transport == "tcp");
    CHECK_FALSE(r.services[0].likely_blocked);
    CHECK(r.services[1].likely_blocked);
    // The TCP one was checked by a Binding over TCP, on the connection the leaf's Probe
    // had opened.
    CHECK(r.verification.state == VerifyState::kVerified);
    CHECK(r.verification.service == r.services[0].uri);
  });
}

TEST_CASE("IPv6: the tree on [::1] is walked over IPv6, round trips as over IPv4") {
  Topology topology = parse_world(world_yaml(""));
  topology.node_base = *parse_endpoint("[::1]:0");
  topology.proxy_base = topology.node_base;
  World w(std::move(topology));
  w.converge();
  DiscoverOptions options;
  options.roots = w.roots();
  REQUIRE(options.roots.size() == 1);
  CHECK(options.roots[0].starts_with("[::1]:"));
  options.use_last_path = false;
  // 20 + 30 ms of round trips (the leaves probed with eu-west) and the Binding to the
  // leaf's TURN server, 30 ms.
  check_median_time(w, options, 80.0, 20.0, "IPv6", [](const auto& r) {
    CHECK(r.family == "ipv6");
    REQUIRE(r.path.size() == 3);
    CHECK(r.path[1].name == "eu-west");
    for (const Hop& hop : r.path)
      CHECK(hop.address.ip == "::1");
    CHECK(r.reflexive.ip == "::1");
    CHECK(r.services[0].uri.starts_with("turn:[::1]:"));
    CHECK(r.verification.state == VerifyState::kVerified);
  });
}

TEST_CASE("TLS: a walk over TLS costs three round trips a level, every certificate checked") {
  const std::string yaml = with_tcp_services(world_yaml(""));
  Topology topology = parse_world(yaml);
  // One certificate for every proxy's address: what the client dials, and what parents list.
  test::TempDir dir("turnscout-e2e-tls");
  std::string names;
  for (size_t i = 0; i < topology.nodes.size(); ++i)
    names += (i == 0 ? "IP:" : ",IP:") + ip_to_string(*nth_address(topology.proxy_base, i));
  const auto cert = test::make_certificate(dir.path(), "tree", names);
  REQUIRE_MESSAGE(cert.ok(), (cert.ok() ? "" : cert.error()));
  ClusterOptions cluster_options = World::udp_blocked();
  cluster_options.tls_cert_file = cert->cert_file;
  cluster_options.tls_key_file = cert->key_file;
  World w(std::move(topology), cluster_options);
  w.converge();

  DiscoverOptions options;
  options.roots = w.roots();
  options.timeout = 2000ms;
  options.use_last_path = false;
  options.transport = TransportMode::kTls;
  options.tls_ca_file = cert->cert_file;
  // Per round a TCP handshake, a TLS 1.3 handshake and the request, 3 x (20 + 30) ms (the
  // leaves probed with eu-west), then the Binding over a TCP connection of its own to the
  // leaf's TURN server, 2 x 30 ms.
  check_median_time(w, options, 150.0 + 60.0, 50.0, "TLS", [](const auto& r) {
    CHECK(r.transport == "tls");
    REQUIRE(r.path.size() == 3);
    CHECK(r.path[1].name == "eu-west");
    for (const Hop& hop : r.path)
      CHECK(hop.transport == "tls");
    CHECK(r.services[0].transport == "tcp");
    CHECK(r.verification.state == VerifyState::kVerified);
  });

  // A client that does not trust the tree's certificate gets nowhere, and says why.
  options.tls_ca_file.clear();
  Client client(&w.loop);
  const DiscoveryResult refused = w.discover(client, options);
  CHECK_FALSE(refused.ok());
  REQUIRE(!refused.errors.empty());
  CHECK_MESSAGE(refused.errors[0].detail.find("certificate refused") != std::string::npos,
                refused.errors[0].detail);
}

}  // namespace
}  // namespace turnscout::cluster::testing
