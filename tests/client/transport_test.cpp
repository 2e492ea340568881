// Transport racing on the simulated network: UDP first; where no root answers UDP within
// the fallback delay, TCP races in to the same roots and the first transport that answers
// carries the rest of the walk; the result ranks TURN services by what got through.
// In the simulation a TCP request costs one round trip more than a datagram (the handshake).
#include <doctest/doctest.h>

#include "client/core/prober.hpp"
#include "tests/client/fake_server.hpp"
#include "tests/client/scenario.hpp"

namespace turnscout::client::testing {
namespace {

// root (RTT 20) ── eu (30) ── eu-1 (40), whose services are over UDP, TCP and TLS.
struct Tree : Scenario {
  // `with_dtls`: eu-1 also names a TURN server over DTLS (turns: over UDP), second.
  explicit Tree(bool with_dtls = false) {
    add(server(0, 1), branch("root", {server(1, 1)}), 10ms);
    add(server(1, 1), branch("eu", {server(2, 1)}), 15ms);
    FakeServerConfig eu1 = leaf("eu-1", turn(21));
    if (with_dtls) eu1.services.push_back("turns:192.0.2.21:5349?transport=udp");
    eu1.services.push_back("turn:192.0.2.21:3478?transport=tcp");
    eu1.services.push_back("turns:turn.example.org:5349?transport=tcp");
    leaf_server = &add(server(2, 1), std::move(eu1), 20ms);
  }
  DiscoverOptions auto_options() const {
    DiscoverOptions o = options({server(0, 1)});
    o.transport = TransportMode::kAuto;
    return o;
  }
  // Every UDP datagram is dropped, as a firewall would; TCP passes. Counts what the client
  // sends of both kinds.
  void block_udp() {
    net.set_tap([this](const sim::TapEvent& e) {
      if (e.from_node == client) ++(e.transport == Transport::kUdp ? udp_sent : tcp_sent);
      return e.transport == Transport::kUdp ? sim::TapAction::kDrop : sim::TapAction::kPass;
    });
  }
  void count_transports() {
    net.set_tap([this](const sim::TapEvent& e) {
      if (e.from_node == client) ++(e.transport == Transport::kUdp ? udp_sent : tcp_sent);
      return sim::TapAction::kPass;
    });
  }
  // Starts a discovery, reports at once that the kernel refused a datagram to `refused`
  // (as the driver would), and runs to its result.
  DiscoveryResult discover_refused(const DiscoverOptions& o, const Endpoint& refused) {
    auto id = prober.start(net.now(), o);
    REQUIRE(id.ok());
    prober.on_unreachable(net.now(), refused);
    net.kick(client);
    return run_to_result();
  }
  // Runs the discovery already started to its result (within 5 s of simulated time).
  DiscoveryResult run_to_result() {
    std::optional<Finished> result;
    REQUIRE(net.run_until(
        [&] {
          if (!result) result = prober.poll_result();
          return result.has_value();
        },
        net.now() + 5s));
    return std::move(result->result);
  }
  FakeServer* leaf_server = nullptr;
  uint32_t udp_sent = 0;
  uint32_t tcp_sent = 0;
};

}  // namespace

TEST_CASE("UDP blocked: TCP races in after the fallback delay and carries the whole walk") {
  Tree s;
  s.block_udp();
  const DiscoveryResult r = s.discover(s.auto_options());
  REQUIRE(r.ok());
  CHECK(r.transport == "tcp");
  // 250 ms of UDP, then each level costs two round trips over TCP (handshake and request):
  // 2 * (20 + 30 + 40) = 180 ms.
  CHECK(r.total_time == 250ms + 180ms);
  CHECK(hop_names(r) == Names{"root", "eu", "eu-1"});
  for (const Hop& hop : r.path)
    CHECK(hop.transport == "tcp");
  CHECK(r.path[0].rtt == 40ms);
  // TURN over TCP and TLS first; the UDP one last and marked.
  REQUIRE(r.services.size() == 3);
  CHECK(r.services[0].uri == "turn:192.0.2.21:3478?transport=tcp");
  CHECK(r.services[1].uri == "turns:turn.example.org:5349?transport=tcp");
  CHECK(r.services[2].uri == turn(21));
  CHECK_FALSE(r.services[0].likely_blocked);
  CHECK(r.services[2].likely_blocked);
  // The UDP probes before the race, and none after it below the root.
  CHECK(s.leaf_server->stream_requests == 1);
  CHECK(s.leaf_server->probes.size() == 1);
}

TEST_CASE("UDP working: TCP never starts, and the services keep the leaf's order") {
  Tree s;
  s.count_transports();
  const DiscoveryResult r = s.discover(s.auto_options());
  REQUIRE(r.ok());
  CHECK(r.transport == "udp");
  CHECK(r.total_time == 90ms);
  CHECK(s.tcp_sent == 0);
  CHECK(s.udp_sent == 3);
  CHECK(r.services[0].uri == turn(21));
  CHECK_FALSE(r.services[0].likely_blocked);
  CHECK(r.path[0].transport == "udp");
}

TEST_CASE("transport tls: every Probe over TLS, its certificate checked as the options say") {
  Tree s;
  std::vector<std::tuple<Transport, std::string, std::string, bool>> sent;
  s.net.set_tap([&](const sim::TapEvent& e) {
    if (e.from_node == s.client) {
      REQUIRE(e.datagram != nullptr);
      sent.emplace_back(e.transport, e.datagram->tls_name, e.datagram->tls_ca_file,
                        e.datagram->tls_verify);
    }
    return sim::TapAction::kPass;
  });
  DiscoverOptions o = s.auto_options();
  o.transport = TransportMode::kTls;
  o.tls_ca_file = "ca.pem";
  o.verify = false;  // Probes only.
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(r.transport == "tls");
  // Each level costs three round trips: TCP's handshake, TLS's, the request.
  CHECK(r.total_time == 3 * (20ms + 30ms + 40ms));
  for (const Hop& hop : r.path)
    CHECK(hop.transport == "tls");
  // The leaf's reply (120 ms) comes after its first RTO (100 ms): one retransmission, on the
  // same connection.
  REQUIRE(sent.size() == 4);
  for (const auto& [transport, name, ca, verify] : sent) {
    CHECK(transport == Transport::kTls);
    CHECK(name.empty());  // Roots given by address and listed servers: checked by address.
    CHECK(ca == "ca.pem");
    CHECK(verify);
  }
  // TLS services first, then TCP; UDP last and marked.
  REQUIRE(r.services.size() == 3);
  CHECK(r.services[0].uri == "turns:turn.example.org:5349?transport=tcp");
  CHECK(r.services[1].uri == "turn:192.0.2.21:3478?transport=tcp");
  CHECK(r.services[2].likely_blocked);

  // DTLS is TLS over UDP: marked with UDP, and not ahead of TURN over TCP.
  Tree d(true);
  const DiscoveryResult dr = d.discover(o);
  REQUIRE(dr.ok());
  REQUIRE(dr.services.size() == 4);
  CHECK(dr.services[0].uri == "turns:turn.example.org:5349?transport=tcp");
  CHECK(dr.services[1].uri == "turn:192.0.2.21:3478?transport=tcp");
  CHECK(dr.services[2].uri == turn(21));
  CHECK(dr.services[3].uri == "turns:192.0.2.21:5349?transport=udp");
  CHECK(dr.services[3].likely_blocked);

  // A root given by host name: its certificate must carry that name; the servers it lists,
  // their addresses.
  Tree n;
  std::vector<std::string> names;
  n.net.set_tap([&](const sim::TapEvent& e) {
    if (e.from_node == n.client) names.push_back(e.datagram->tls_name);
    return sim::TapAction::kPass;
  });
  DiscoverOptions named = o;
  named.roots = {"scout.example.org:3478"};
  auto id = n.prober.start(n.net.now(), named);
  REQUIRE(id.ok());
  REQUIRE(n.prober.poll_resolve().has_value());
  const Endpoint resolved = server(0, 1, 0);
  n.prober.on_resolved(n.net.now(), *id, "scout.example.org", std::span(&resolved, 1));
  n.net.kick(n.client);
  REQUIRE(n.run_to_result().ok());
  REQUIRE(names.size() >= 3);
  CHECK(names[0] == "scout.example.org");
  for (size_t i = 1; i < names.size(); ++i)
    CHECK(names[i].empty());

  // Told to accept any certificate: the Probes say so.
  Tree t;
  bool insecure = false;
  t.net.set_tap([&](const sim::TapEvent& e) {
    if (e.from_node == t.client) insecure = !e.datagram->tls_verify;
    return sim::TapAction::kPass;
  });
  o.tls_insecure = true;
  REQUIRE(t.discover(o).ok());
  CHECK(insecure);
}

TEST_CASE("transport tls: a server whose certificate is refused is unreachable, and says why") {
  Tree s;
  DiscoverOptions o = s.auto_options();
  o.transport = TransportMode::kTls;
  auto id = s.prober.start(s.net.now(), o);
  REQUIRE(id.ok());
  s.net.kick(s.client);
  // The driver reports the refused certificate of the root before its reply could come.
  s.prober.on_unreachable(s.net.now(), server(0, 1), Transport::kTls,
                          "certificate refused: self-signed certificate");
  const DiscoveryResult r = s.run_to_result();
  CHECK_FALSE(r.ok());
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].kind == PeerErrorKind::kUnreachable);
  CHECK(r.errors[0].detail ==
        "destination unreachable over TLS (certificate refused: self-signed certificate)");
  CHECK(r.total_time < 100ms);  // At once, not after the timeout.
}

TEST_CASE("only TLS gets out: TLS joins the race after TCP had its turn, and carries the walk") {
  Tree s;
  uint32_t udp = 0, tcp = 0, tls = 0;
  s.net.set_tap([&](const sim::TapEvent& e) {
    if (e.from_node == s.client) {
      ++(e.transport == Transport::kUdp ? udp : e.transport == Transport::kTcp ? tcp : tls);
    }
    // A middlebox that passes TLS and nothing else.
    return e.transport == Transport::kTls ? sim::TapAction::kPass : sim::TapAction::kDrop;
  });
  const DiscoveryResult r = s.discover(s.auto_options());
  REQUIRE_MESSAGE(r.ok(), r.failure);
  CHECK(r.transport == "tls");
  for (const Hop& hop : r.path)
    CHECK(hop.transport == "tls");
  // UDP alone for 250 ms, TCP joins, TLS 250 ms later; then three round trips a level.
  CHECK(r.total_time == 500ms + 3 * (20ms + 30ms + 40ms));
  CHECK(tcp == 1);  // The root's TCP Probe at 250 ms: TLS answered before it was retried.
  // One a level, and a retransmission to the leaf: its first timeout (100 ms) is shorter
  // than three round trips (120 ms), and it goes on the same connection.
  CHECK(tls == 4);
  CHECK(r.services[0].uri == "turns:turn.example.org:5349?transport=tcp");
  CHECK(r.services[2].likely_blocked);
}

TEST_CASE("a refused certificate in the race closes TLS to that server, not the server") {
  // The root answers its third TCP Probe; without the refusal, TLS would take its turn
  // among the retransmissions before that.
  for (const bool refused : {true, false}) {
    INFO("certificate refused: " << refused);
    Tree s;
    uint32_t tls = 0;
    s.net.set_tap([&](const sim::TapEvent& e) {
      if (e.from_node == s.client && e.transport == Transport::kTls) ++tls;
      // No UDP gets through; nor does TLS (refused, or not served there).
      return e.transport == Transport::kTcp ? sim::TapAction::kPass : sim::TapAction::kDrop;
    });
    DiscoverOptions o = s.auto_options();
    o.transport_fallback = std::chrono::milliseconds{10};  // TCP at 10 ms, TLS at 20 ms.
    s.servers.front().config.drop_first = 2;
    auto id = s.prober.start(s.net.now(), o);
    REQUIRE(id.ok());
    s.net.kick(s.client);
    s.net.run_for(25ms);  // TCP and TLS have both joined.
    if (refused) {
      s.prober.on_unreachable(s.net.now(), server(0, 1), Transport::kTls, "certificate refused");
    }
    const DiscoveryResult r = s.run_to_result();
    if (!refused) {
      CHECK(tls >= 2);  // TLS took its turns, for nothing.
      continue;
    }
    REQUIRE_MESSAGE(r.ok(), r.failure);
    CHECK(r.transport == "tcp");  // The TCP retransmission answered.
    CHECK(count_errors(r, PeerErrorKind::kUnreachable) == 0);
    CHECK(tls == 1);  // None after the refusal.
  }
}

TEST_CASE("a slow UDP root still wins the race it is in, and the walk stays on UDP") {
  Tree s;
  s.set_delay(server(0, 1), 200ms);  // RTT 400 ms: TCP joins at 250 ms, would answer at 1050.
  s.count_transports();
  const DiscoveryResult r = s.discover(s.auto_options());
  REQUIRE(r.ok());
  CHECK(r.transport == "udp");
  CHECK(r.total_time == 400ms + 30ms + 40ms);
  CHECK(s.tcp_sent == 1);  // The one TCP probe to the root; below it, UDP only.
  CHECK(r.path[1].transport == "udp");
}

TEST_CASE("transport tcp: no datagram at all") {
  Tree s;
  s.count_transports();
  DiscoverOptions o = s.auto_options();
  o.transport = TransportMode::kTcp;
  const DiscoveryResult r = s.discover(o);
  REQUIRE(r.ok());
  CHECK(r.transport == "tcp");
  CHECK(r.total_time == 180ms);
  CHECK(s.udp_sent == 0);
  CHECK(s.tcp_sent == 3);
  CHECK(r.services[0].uri == "turn:192.0.2.21:3478?transport=tcp");
}

TEST_CASE("with the roots' RTT known, TCP joins after twice the best RTT and 50 ms") {
  Tree s;
  s.set_delay(server(0, 1), 40ms);  // RTT 80 ms: TCP joins after 2 * 80 + 50 = 210 ms.
  const DiscoveryResult first = s.discover(s.auto_options());
  REQUIRE(first.ok());
  s.settle();
  s.prober.forget_last_path();  // A cold walk again, but the root's RTT (20 ms) is known.
  s.block_udp();
  const DiscoveryResult r = s.discover(s.auto_options());
  REQUIRE(r.ok());
  CHECK(r.transport == "tcp");
  CHECK(r.total_time == 210ms + 2 * (80ms + 30ms + 40ms));
}

TEST_CASE("a root RTT known to be tiny still gives UDP 100 ms") {
  Tree s;
  REQUIRE(s.discover(s.auto_options()).ok());  // The root's RTT is 20 ms: 2 * 20 + 50 = 90.
  s.settle();
  s.prober.forget_last_path();
  s.block_udp();
  const DiscoveryResult r = s.discover(s.auto_options());
  REQUIRE(r.ok());
  CHECK(r.total_time == 100ms + 180ms);
}

TEST_CASE("UDP refused by the local kernel: TCP at once, not a failed server") {
  Tree s;
  s.block_udp();
  // A host firewall rejecting UDP.
  const DiscoveryResult r = s.discover_refused(s.auto_options(), server(0, 1));
  REQUIRE_MESSAGE(r.ok(), r.failure);
  CHECK(r.transport == "tcp");
  CHECK(r.total_time == 180ms);  // No fallback delay: TCP went at once.
  CHECK(count_errors(r, PeerErrorKind::kUnreachable) == 0);
}

TEST_CASE("one root's refused datagram does not send the other roots to TCP early") {
  Tree s;
  // Root A is silent and the kernel refuses UDP to it; root B loses its first datagram
  // and answers the UDP retransmission, well before the 250 ms fallback.
  FakeServerConfig a = branch("root-a", {server(1, 1)});
  a.silent = true;
  s.add(server(0, 2), a, 10ms);
  s.servers.front().config.drop_first = 1;
  s.count_transports();
  DiscoverOptions o = s.options({server(0, 2), server(0, 1)});
  o.transport = TransportMode::kAuto;
  const DiscoveryResult r = s.discover_refused(o, server(0, 2));
  REQUIRE_MESSAGE(r.ok(), r.failure);
  CHECK(r.transport == "udp");
  CHECK(r.path[0].name == "root");
}

TEST_CASE("after the race, retransmissions take turns: a refused TCP Probe is tried again") {
  Tree s;
  s.servers.front().config.drop_first = 1;  // The root ignores the first TCP Probe.
  // UDP blocked, and TLS too (it would otherwise join at 500 ms and win).
  s.net.set_tap([&s](const sim::TapEvent& e) {
    if (e.from_node == s.client) ++(e.transport == Transport::kUdp ? s.udp_sent : s.tcp_sent);
    return e.transport == Transport::kTcp ? sim::TapAction::kPass : sim::TapAction::kDrop;
  });
  const DiscoveryResult r = s.discover(s.auto_options());
  REQUIRE_MESSAGE(r.ok(), r.failure);
  CHECK(r.transport == "tcp");
  CHECK(s.servers.front().stream_requests == 2);
  CHECK(s.udp_sent >= 2);  // UDP retransmissions went on between the TCP ones.
}

TEST_CASE("a root that spent its attempts on UDP before the race still gets one over TCP") {
  Tree s;
  s.block_udp();
  DiscoverOptions o = s.auto_options();
  o.max_attempts = 1;
  const DiscoveryResult r = s.discover(o);
  REQUIRE_MESSAGE(r.ok(), r.failure);
  CHECK(r.transport == "tcp");
  CHECK(r.total_time == 250ms + 180ms);
}

TEST_CASE("after the race a server without TCP is still reached by UDP retransmissions") {
  Tree s;
  // The root's first two datagrams are lost; TCP (and so TLS, on the same port) gets no
  // answer at all.
  s.servers.front().config.drop_first = 2;
  s.net.set_tap([](const sim::TapEvent& e) {
    return e.transport == Transport::kUdp ? sim::TapAction::kPass : sim::TapAction::kDrop;
  });
  const DiscoveryResult r = s.discover(s.auto_options());
  REQUIRE_MESSAGE(r.ok(), r.failure);
  CHECK(r.transport == "udp");
}

TEST_CASE("a UDP answer after TCP won means loss, not a block: UDP services keep their rank") {
  Tree s;
  // Root A drops UDP (its TCP answers at 250 + 40 ms and wins); root B answers UDP, slowly
  // (600 ms), while the walk below A is still going over TCP (eu is far: 400 ms over TCP).
  s.add(server(0, 2), branch("root-b", {server(1, 1)}), 300ms);
  s.set_delay(server(1, 1), 100ms);
  s.net.set_tap([](const sim::TapEvent& e) {
    const bool to_a = e.to == server(0, 1) || e.from == server(0, 1);
    return e.transport == Transport::kUdp && to_a ? sim::TapAction::kDrop : sim::TapAction::kPass;
  });
  DiscoverOptions o = s.options({server(0, 1), server(0, 2)});
  o.transport = TransportMode::kAuto;
  const DiscoveryResult r = s.discover(o);
  REQUIRE_MESSAGE(r.ok(), r.failure);
  CHECK(r.transport == "tcp");
  CHECK(r.path[0].name == "root");
  CHECK(r.total_time > 600ms);
  REQUIRE(r.services.size() == 3);
  CHECK(r.services[0].uri == turn(21));  // The leaf's order: UDP was heard, so not blocked.
  CHECK_FALSE(r.services[0].likely_blocked);
}

TEST_CASE("a reply over the wrong transport is not taken") {
  Tree s;
  DiscoverOptions o = s.auto_options();
  o.transport = TransportMode::kTcp;
  o.timeout = std::chrono::milliseconds{500};
  auto id = s.prober.start(s.net.now(), o);
  REQUIRE(id.ok());
  // Hand the prober a UDP reply with a transaction id of a TCP probe: counted, ignored.
  std::vector<Datagram> out;
  s.prober.poll_transmit(out);
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].transport == Transport::kTcp);
  const auto view = proto::parse_message(out[0].bytes);
  REQUIRE(view.ok());
  const std::vector<std::string> services{turn(1)};
  proto::ProbeReply reply{view->transaction_id(), kClientV4, "root", {}, {}, 0, {}, services};
  std::vector<uint8_t> bytes(1500);
  const auto size = proto::encode_probe_reply(reply, bytes.size(), bytes);
  REQUIRE(size.ok());
  bytes.resize(size->size);
  const uint64_t before = s.prober.counters().wrong_source;
  s.prober.on_datagram(s.net.now(), kClientV4, server(0, 1), bytes);
  CHECK(s.prober.counters().wrong_source == before + 1);
  CHECK_FALSE(s.prober.has_results());
}

}  // namespace turnscout::client::testing
