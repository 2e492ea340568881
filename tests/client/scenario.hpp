// A client Prober and fake servers on the simulated network, with helpers to run one
// discovery to its result. Times are exact: the network jumps from event to event.
#pragma once

#include <doctest/doctest.h>

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/endpoint.hpp"
#include "base/random.hpp"
#include "client/core/prober.hpp"
#include "tests/client/fake_server.hpp"
#include "tests/sim/sim_network.hpp"

namespace turnscout::client::testing {

inline const TimePoint kStart = TimePoint{} + 1000s;
inline const Endpoint kClientV4 = Endpoint::v4(192, 0, 2, 7, 40000);
inline Endpoint client_v6() {
  std::array<uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8};
  ip[15] = 7;
  return Endpoint::v6(ip, 40000);
}
inline Endpoint v6(uint8_t last, uint16_t port = 3478) {
  std::array<uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8};
  ip[14] = 1;
  ip[15] = last;
  return Endpoint::v6(ip, port);
}
inline Endpoint server(uint8_t c, uint8_t d, uint16_t port = 3478) {
  return Endpoint::v4(10, 0, c, d, port);
}

// One-way delay `d` both ways: a round trip of 2d.
// The next finished discovery's result, without its id.
inline std::optional<DiscoveryResult> poll_result(Prober& prober) {
  auto finished = prober.poll_result();
  if (!finished) return std::nullopt;
  return std::move(finished->result);
}

inline sim::LinkParams delay(Duration d) {
  return sim::LinkParams{.delay = d};
}

struct Scenario {
  explicit Scenario(uint64_t seed = 1, ProberConfig config = {})
      : net(seed, kStart), random(seed), prober(config, random, kStart) {
    client = net.add_node(prober, {kClientV4, client_v6()});
  }

  FakeServer& add(const Endpoint& address, FakeServerConfig config, Duration one_way = 10ms) {
    servers.emplace_back(std::move(config));
    const sim::NodeId id = net.add_node(servers.back(), {address});
    net.set_path(client, id, delay(one_way));
    return servers.back();
  }
  void set_delay(const Endpoint& address, Duration one_way) {
    net.set_path(client, net.node_of(address), delay(one_way));
  }

  // Without verification (its tests turn it on): most fake leaves name TEST-NET addresses.
  // UDP only: the tests of transport racing (transport_test.cpp) ask for kAuto.
  DiscoverOptions options(std::vector<Endpoint> roots) const {
    DiscoverOptions o;
    o.verify = false;
    o.transport = TransportMode::kUdp;
    for (const Endpoint& r : roots)
      o.roots.push_back(to_string(r));
    return o;
  }

  // Answers, at once, every host name the prober asks about from `names` (a name not there
  // does not resolve), and hands the prober's output to the network.
  void answer_names() {
    bool answered = false;
    while (auto request = prober.poll_resolve()) {
      auto it = names.find(request->host);
      if (it == names.end()) {
        prober.on_resolved(net.now(), request->id, request->host, {}, "unknown name");
      } else {
        prober.on_resolved(net.now(), request->id, request->host, it->second);
      }
      answered = true;
    }
    if (answered) net.kick(client);
  }

  // Starts a discovery and runs the network until its result comes (at most `limit`).
  DiscoveryResult discover(DiscoverOptions options, Duration limit = 10s) {
    auto id = prober.start(net.now(), std::move(options));
    REQUIRE_MESSAGE(id.ok(), (id.ok() ? "" : id.error().message));
    std::optional<Finished> result;
    const bool done = net.run_until(
        [&] {
          answer_names();
          if (!result) result = prober.poll_result();
          return result.has_value();
        },
        net.now() + limit);
    REQUIRE(done);
    CHECK(result->id == *id);
    CHECK(net.errors().empty());
    return std::move(result->result);
  }

  // Lets background work (refreshes) finish.
  void settle(Duration limit = 10s) {
    const bool idle = net.run_until([&] { return prober.active() == 0; }, net.now() + limit);
    CHECK(idle);
  }

  // From now on, every datagram the client sends is logged in `sends`.
  void record_sends() {
    sends.clear();
    net.set_tap([this](const sim::TapEvent& e) {
      if (e.from_node == client) sends.push_back({e.time, e.to});
      return sim::TapAction::kPass;
    });
  }
  // Send times to `to`, relative to `since`.
  std::vector<Duration> sends_to(const Endpoint& to, TimePoint since = kStart) const {
    std::vector<Duration> out;
    for (const Sent& sent : sends) {
      if (sent.to == to) out.push_back(sent.at - since);
    }
    return out;
  }

  struct Sent {
    TimePoint at;
    Endpoint to;
  };
  std::vector<Sent> sends;
  sim::SimNetwork net;
  SeededRandom random;
  Prober prober;
  sim::NodeId client = 0;
  std::deque<FakeServer> servers;                      // Stable addresses for the network.
  std::map<std::string, std::vector<Endpoint>> names;  // What answer_names() resolves.
};

inline std::vector<std::string> hop_names(const DiscoveryResult& result) {
  std::vector<std::string> names;
  for (const Hop& hop : result.path)
    names.push_back(hop.name);
  return names;
}

inline std::vector<std::string> service_texts(const std::vector<Service>& services) {
  std::vector<std::string> texts;
  for (const Service& s : services)
    texts.push_back(s.uri);
  return texts;
}

inline size_t count_errors(const DiscoveryResult& result, PeerErrorKind kind) {
  size_t n = 0;
  for (const PeerError& e : result.errors)
    n += e.kind == kind ? 1 : 0;
  return n;
}

using Names = std::vector<std::string>;

inline FakeServerConfig branch(std::string name, std::vector<Endpoint> children) {
  FakeServerConfig c;
  c.name = std::move(name);
  c.children = std::move(children);
  return c;
}

inline FakeServerConfig leaf(std::string name, std::string service) {
  FakeServerConfig c;
  c.name = std::move(name);
  c.services = {std::move(service)};
  return c;
}

inline std::string turn(int last) {
  return "turn:192.0.2." + std::to_string(last) + ":3478?transport=udp";
}

}  // namespace turnscout::client::testing
