// End to end with real TURN servers: the leaves of an in-process cluster name coturn
// processes (Debian's coturn, started here on loopback and stopped by PID), so the SDK's
// verify step, a STUN Binding to the chosen TURN server, is answered by coturn itself.
// Killing one coturn makes the verify step fall to the backup: the TURN server of the
// sibling leaf.
#include <csignal>

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <turnscout/client.hpp>

#include "common/format.hpp"
#include "proto/binding.hpp"
#include "tests/cluster/world.hpp"
#include "tests/support/certificate.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/udp_client.hpp"
#include "tests/support/wait.hpp"

namespace turnscout::cluster::testing {
namespace {

// The coturn binary, or a test failure that says how to get it.
std::string turnserver_path() {
  const auto path = test::find_in_path("turnserver");
  REQUIRE_MESSAGE(path.has_value(),
                  "turnserver not found in PATH: install coturn (apt-get install coturn); "
                  "scripts/test.sh does");
  return *path;
}

// A free UDP port on `ip`. Each coturn gets an address of its own (127.3.0.x), so nothing
// else takes the port between this check and coturn's bind.
uint16_t free_udp_port(const Endpoint& ip) {
  auto socket = test::UdpClient::open(ip);
  REQUIRE_MESSAGE(socket.ok(), (socket ? "" : socket.error()));
  return socket->local().port;
}

// The raw Binding response from `to`, or an error.
Result<test::ReceivedDatagram, std::string> raw_binding(const Endpoint& to) {
  auto client = test::UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));
  if (!client) return unexpected(client.error());
  proto::BindingRequest request;
  request.transaction_id = client->next_transaction_id();
  std::vector<uint8_t> bytes(64);
  auto size = proto::encode_binding_request(request, bytes);
  if (!size) return unexpected(proto::to_string(size.error()));
  bytes.resize(*size);
  return client->exchange(to, bytes, 200ms);
}

// One coturn on its own loopback address: UDP (and with `tcp`, TCP on the same port; with
// `tls`, TLS two ports up, with that certificate), long-term credentials (as a real
// deployment would have; a Binding needs none), its database, pid and log in `dir`.
class Coturn {
 public:
  Coturn(const test::TempDir& dir, std::string name, const Endpoint& ip, bool tcp = false,
         const std::optional<test::Certificate>& tls = std::nullopt)
      : name_(std::move(name)) {
    address_ = ip;
    address_.port = free_udp_port(ip);
    // The address is this coturn's alone, so a port near its UDP one is free for TLS.
    tls_port_ = address_.port > 65000 ? address_.port - 2 : address_.port + 2;
    const std::string host = ip_to_string(ip);
    std::vector<std::string> args{"-n",
                                  "--listening-ip=" + host,
                                  fmt::format("--listening-port={}", address_.port),
                                  "--relay-ip=" + host,
                                  "--min-port=49152",
                                  "--max-port=49407",
                                  "--no-dtls",
                                  "--no-cli",
                                  "--no-rfc5780",
                                  "--lt-cred-mech",
                                  "--user=scout:secret",
                                  "--realm=turnscout.test",
                                  "--db=" + dir.file(name_ + ".sqlite"),
                                  "--pidfile=" + dir.file(name_ + ".pid"),
                                  "--log-file=stdout",
                                  "--simple-log"};
    if (!tcp) args.push_back("--no-tcp");
    if (tls) {
      args.push_back(fmt::format("--tls-listening-port={}", tls_port_));
      args.push_back("--cert=" + tls->cert_file);
      args.push_back("--pkey=" + tls->key_file);
    } else {
      args.push_back("--no-tls");
    }
    auto process = test::ChildProcess::spawn(turnserver_path(), args, dir.file(name_ + ".log"));
    REQUIRE_MESSAGE(process.ok(), (process ? "" : process.error()));
    process_ = std::make_unique<test::ChildProcess>(std::move(*process));
    // Ready when it answers a Binding (about half a second after the start here).
    const bool ready = test::wait_until(10s, 20ms, [&] {
      REQUIRE_MESSAGE(process_->running(), name_ << " exited:\n" << process_->output());
      return raw_binding(address_).ok();
    });
    REQUIRE_MESSAGE(ready, name_ << " does not answer a Binding:\n" << process_->output());
  }

  const Endpoint& address() const { return address_; }
  std::string uri() const { return fmt::format("turn:{}?transport=udp", to_string(address_)); }
  std::string tcp_uri() const { return fmt::format("turn:{}?transport=tcp", to_string(address_)); }
  std::string tls_uri() const {
    return fmt::format("turns:{}:{}?transport=tcp", ip_to_string(address_), tls_port_);
  }
  void kill() {
    REQUIRE(process_->send_signal(SIGKILL));
    REQUIRE(process_->wait(5s).has_value());
  }

 private:
  std::string name_;
  Endpoint address_;
  uint16_t tls_port_ = 0;
  std::unique_ptr<test::ChildProcess> process_;  // Killed and reaped when the test ends.
};

// A root, a region and two leaves, each leaf fronting one coturn. leaf-a is nearer, so it
// wins its level; leaf-b's reply comes a few milliseconds later.
std::string topology_yaml(const Coturn& a, const Coturn& b) {
  return fmt::format(
      "defaults: {{heartbeat: 100ms, missed: 3, admission: false}}\n"
      "roots:\n"
      "  - name: root\n"
      "    link: {{delay: 2ms}}\n"
      "    children:\n"
      "      - name: region\n"
      "        link: {{delay: 4ms}}\n"
      "        children:\n"
      "          - {{name: leaf-a, load: 0.2, link: {{delay: 3ms}}, services: [\"{}\"]}}\n"
      "          - {{name: leaf-b, load: 0.5, link: {{delay: 8ms}}, services: [\"{}\"]}}\n",
      a.uri(), b.uri());
}

bool has_software(const std::vector<uint8_t>& bytes, std::string_view prefix) {
  return std::search(bytes.begin(), bytes.end(), prefix.begin(), prefix.end()) != bytes.end();
}

TEST_CASE("coturn at the leaves: the verify step is answered by coturn") {
  test::TempDir dir("turnscout-coturn");
  Coturn a(dir, "coturn-a", Endpoint::v4(127, 3, 0, 1, 0));
  Coturn b(dir, "coturn-b", Endpoint::v4(127, 3, 0, 2, 0));
  // It is coturn that answers: its SOFTWARE attribute names it.
  auto raw = raw_binding(a.address());
  REQUIRE_MESSAGE(raw.ok(), (raw ? "" : raw.error()));
  CHECK(has_software(raw->bytes, "Coturn-"));

  World w(parse_world(topology_yaml(a, b)));
  w.converge();
  DiscoverOptions options;
  options.roots = w.roots();
  options.verify = true;
  options.use_last_path = false;
  for (int i = 0; i < 20; ++i) {
    INFO("discovery " << i);
    Client client(&w.loop);
    const DiscoveryResult r = w.discover(client, options);
    REQUIRE_MESSAGE(r.ok(), r.failure);
    REQUIRE(r.path.size() == 3);
    CHECK(r.path[2].name == "leaf-a");
    CHECK(r.verification.state == VerifyState::kVerified);
    CHECK(r.verification.service == a.uri());
    CHECK(r.verification.address.to_string() == to_string(a.address()));
    // coturn saw us on loopback: the mapped address is our own socket's.
    CHECK(r.verification.mapped.ip == "127.0.0.1");
    CHECK(r.verification.mapped.port != 0);
    CHECK(r.verification.rtt < 100ms);
    REQUIRE(!r.services.empty());
    CHECK(r.services[0].uri == a.uri());
  }
}

TEST_CASE("coturn over TCP: with UDP blocked, the verify step is a Binding over TCP to coturn") {
  test::TempDir dir("turnscout-coturn");
  Coturn a(dir, "coturn-a", Endpoint::v4(127, 3, 0, 1, 0), true);
  Coturn b(dir, "coturn-b", Endpoint::v4(127, 3, 0, 2, 0), true);
  std::string yaml = topology_yaml(a, b);
  for (const Coturn* c : {&a, &b}) {
    const std::string udp = "[\"" + c->uri() + "\"]";
    yaml.replace(yaml.find(udp), udp.size(), "[\"" + c->uri() + "\", \"" + c->tcp_uri() + "\"]");
  }
  World w(parse_world(yaml), World::udp_blocked());
  w.converge();
  DiscoverOptions options;
  options.roots = w.roots();
  options.verify = true;
  options.use_last_path = false;
  for (int i = 0; i < 5; ++i) {
    INFO("discovery " << i);
    Client client(&w.loop);
    const DiscoveryResult r = w.discover(client, options);
    REQUIRE_MESSAGE(r.ok(), r.failure);
    CHECK(r.transport == "tcp");
    REQUIRE(r.path.size() == 3);
    CHECK(r.path[2].name == "leaf-a");
    CHECK(r.verification.state == VerifyState::kVerified);
    CHECK(r.verification.service == a.tcp_uri());
    CHECK(r.verification.address.to_string() == to_string(a.address()));
    CHECK(r.verification.mapped.ip == "127.0.0.1");
    REQUIRE(!r.verification.tried.empty());
    CHECK(r.verification.tried.back().outcome == "answered over TCP (connection included)");
    REQUIRE(!r.services.empty());
    CHECK(r.services[0].uri == a.tcp_uri());
  }
}

TEST_CASE("coturn over TLS: turns: is verified by a Binding over TLS, its certificate checked") {
  test::TempDir dir("turnscout-coturn");
  const auto cert = test::make_certificate(dir.path(), "coturn", "IP:127.3.0.1,IP:127.3.0.2");
  REQUIRE_MESSAGE(cert.ok(), (cert.ok() ? "" : cert.error()));
  Coturn a(dir, "coturn-a", Endpoint::v4(127, 3, 0, 1, 0), false, *cert);
  Coturn b(dir, "coturn-b", Endpoint::v4(127, 3, 0, 2, 0), false, *cert);
  std::string yaml = topology_yaml(a, b);
  for (const Coturn* c : {&a, &b}) {
    const std::string udp = "[\"" + c->uri() + "\"]";
    yaml.replace(yaml.find(udp), udp.size(), "[\"" + c->tls_uri() + "\"]");
  }
  World w(parse_world(yaml));
  w.converge();
  DiscoverOptions options;
  options.roots = w.roots();
  options.verify = true;
  options.use_last_path = false;
  options.tls_ca_file = cert->cert_file;
  // coturn's TLS listener may come up a little after its UDP one answers.
  const bool listening = test::wait_until(5s, 50ms, [&] {
    Client client(&w.loop);
    return w.discover(client, options).verification.state == VerifyState::kVerified;
  });
  REQUIRE(listening);
  for (int i = 0; i < 3; ++i) {
    INFO("discovery " << i);
    Client client(&w.loop);
    const DiscoveryResult r = w.discover(client, options);
    REQUIRE_MESSAGE(r.ok(), r.failure);
    CHECK(r.transport == "udp");
    CHECK(r.verification.state == VerifyState::kVerified);
    CHECK(r.verification.service == a.tls_uri());
    CHECK(r.verification.mapped.ip == "127.0.0.1");
    REQUIRE(!r.verification.tried.empty());
    CHECK(r.verification.tried.back().outcome == "answered over TLS (connection included)");
  }
  // Checked against the system's CAs instead, coturn's self-signed certificate is refused:
  // both leaves' services fail, and the discovery with them.
  options.tls_ca_file.clear();
  Client client(&w.loop);
  const DiscoveryResult refused = w.discover(client, options);
  CHECK_FALSE(refused.ok());
  REQUIRE(!refused.verification.tried.empty());
  const std::string outcome = refused.verification.tried[0].outcome;
  CHECK_MESSAGE(outcome.find("certificate refused") != std::string::npos, outcome);
}

TEST_CASE("coturn at the leaves: a killed coturn makes the verify step fall to the backup") {
  test::TempDir dir("turnscout-coturn");
  Coturn a(dir, "coturn-a", Endpoint::v4(127, 3, 0, 3, 0));
  Coturn b(dir, "coturn-b", Endpoint::v4(127, 3, 0, 4, 0));
  World w(parse_world(topology_yaml(a, b)));
  w.converge();
  DiscoverOptions options;
  options.roots = w.roots();
  options.verify = true;

  // One Client throughout, as an application keeps one: its first discovery is cold, the
  // others start from the last good leaf.
  Client client(&w.loop);
  const DiscoveryResult before = w.discover(client, options);
  REQUIRE_MESSAGE(before.ok(), before.failure);
  CHECK(before.verification.service == a.uri());

  a.kill();
  for (int i = 0; i < 5; ++i) {
    INFO("discovery " << i << " after the kill");
    for (const bool warm : {true, false}) {
      options.use_last_path = warm;
      INFO("use_last_path " << warm);
      const DiscoveryResult r = w.discover(client, options);
      REQUIRE_MESSAGE(r.ok(), r.failure);
      // The balance server of leaf-a is alive and still the nearest: only its TURN is gone.
      CHECK(r.path.back().name == "leaf-a");
      CHECK(r.verification.state == VerifyState::kVerified);
      CHECK(r.verification.service == b.uri());
      REQUIRE(r.verification.tried.size() == 2);
      CHECK(r.verification.tried[0].service == a.uri());
      CHECK(r.verification.tried[0].outcome == "3 attempts, no reply");
      CHECK(r.verification.tried[1].outcome == "answered");
      REQUIRE(r.services.size() == 2);
      CHECK(r.services[0].uri == b.uri());
      CHECK(r.services[0].node_name == "leaf-b");
      CHECK(r.services[1].uri == a.uri());
      CHECK(r.total_time < options.timeout);
    }
  }
}

TEST_CASE("coturn at the leaves: the CLI against `turnscout cluster` shows the verified coturn") {
  test::TempDir dir("turnscout-coturn");
  Coturn a(dir, "coturn-a", Endpoint::v4(127, 3, 0, 5, 0));
  Coturn b(dir, "coturn-b", Endpoint::v4(127, 3, 0, 6, 0));
  // The cluster's own addresses, away from the other tests' (127.1/127.2).
  const std::string topology =
      dir.write("topology.yaml", "addresses: {nodes: \"127.4.0.1:0\", proxies: \"127.5.0.1:0\"}\n" +
                                     topology_yaml(a, b));
  const std::string state_file = dir.file("state.json");
  auto cluster = test::ChildProcess::spawn(TURNSCOUT_CLI_BIN,
                                           {"cluster", topology, "--state-file", state_file},
                                           dir.file("cluster.log"));
  REQUIRE_MESSAGE(cluster.ok(), (cluster ? "" : cluster.error()));
  REQUIRE_MESSAGE(test::wait_until(20s, 20ms, [&] { return !test::read_file(state_file).empty(); }),
                  cluster->output());
  const auto state = nlohmann::json::parse(test::read_file(state_file));
  const std::string root = state.at("roots").at(0).get<std::string>();

  auto probe =
      test::run_command(TURNSCOUT_CLI_BIN, {"probe", root, "--json"}, dir.file("probe.log"), 10s);
  REQUIRE_MESSAGE(probe.ok(), (probe ? "" : probe.error()));
  INFO(probe->output);
  CHECK(probe->status == test::ExitStatus{true, 0, 0});
  const auto result = nlohmann::json::parse(probe->output);
  CHECK(result.at("verification").at("state") == "verified");
  CHECK(result.at("verification").at("service") == a.uri());
  CHECK(result.at("verification").at("mapped").get<std::string>().rfind("127.0.0.1:", 0) == 0);

  // The table a person reads names the coturn and says it answered.
  auto text =
      test::run_command(TURNSCOUT_CLI_BIN, {"probe", root}, dir.file("probe-text.log"), 10s);
  REQUIRE(text.ok());
  INFO(text->output);
  CHECK(text->output.find(a.uri() + "  (verified: STUN Binding answered") != std::string::npos);

  REQUIRE(cluster->send_signal(SIGTERM));
  const auto exit = cluster->wait(10s);
  REQUIRE(exit.has_value());
  CHECK(*exit == test::ExitStatus{true, 0, 0});
}

}  // namespace
}  // namespace turnscout::cluster::testing
