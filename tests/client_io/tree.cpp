#include "tests/client_io/tree.hpp"

#include <signal.h>

#include <doctest/doctest.h>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "tests/support/udp_client.hpp"
#include "tests/support/wait.hpp"

namespace turnscout::test {
namespace {

constexpr auto kConverge = std::chrono::seconds{10};
constexpr auto kPoll = std::chrono::milliseconds{20};
constexpr auto kProbeTimeout = std::chrono::milliseconds{300};

NodeOptions node(std::string name, std::vector<Endpoint> parents, const std::string& yaml) {
  NodeOptions o;
  o.extra_yaml = yaml;
  o.name = std::move(name);
  o.parents = std::move(parents);
  o.interval = kTreeInterval;
  o.missed = kTreeMissed;
  return o;
}

std::unique_ptr<ServerProcess> start_node(const TempDir& dir, const NodeOptions& options) {
  auto server = ServerProcess::start(dir, options);
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error()));
  return std::move(*server);
}

// Rewrites the leaf's config with its real listen address and its own service, reloads it,
// and waits until the leaf announces the service.
void announce_own_service(const TempDir& dir, ServerProcess& leaf, NodeOptions options,
                          UdpClient& client) {
  options.listen = fmt::format("{}", leaf.udp());
  options.extra_yaml += fmt::format("services: [\"{}\"]\n", Tree::service_of(leaf));
  dir.write(options.name + ".yaml", node_yaml(options));
  REQUIRE(leaf.process().send_signal(SIGHUP));
  const bool announced = wait_until(kConverge, kPoll, [&] {
    proto::ProbeRequest request;
    request.pad_to = proto::kRecommendedRequestSize;
    auto response = client.probe(leaf.udp(), request, kProbeTimeout);
    return response.ok() && response->services.size() == 1 &&
           response->services[0] == Tree::service_of(leaf);
  });
  REQUIRE_MESSAGE(announced, options.name << " did not reload; output:\n" << leaf.output());
}

}  // namespace

void Tree::start() {
  root = start_node(dir, node("root", {}, common_yaml));
  region = start_node(dir, node("region", {root->udp()}, common_yaml));
  const NodeOptions leaf1_options = node("leaf-1", {region->udp()}, common_yaml);
  const NodeOptions leaf2_options = node("leaf-2", {region->udp()}, common_yaml);
  leaf1 = start_node(dir, leaf1_options);
  leaf2 = start_node(dir, leaf2_options);
  auto client = UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));
  REQUIRE(client.ok());
  announce_own_service(dir, *leaf1, leaf1_options, *client);
  announce_own_service(dir, *leaf2, leaf2_options, *client);
  const bool converged = wait_until(kConverge, kPoll, [&] {
    auto below_region = listed_children(*client, region->udp());
    return lists(listed_children(*client, root->udp()), region->udp()) &&
           lists(below_region, leaf1->udp()) && lists(below_region, leaf2->udp());
  });
  REQUIRE_MESSAGE(converged, "region output:\n" << region->output());
}

std::string Tree::root_address() const {
  return fmt::format("{}", root->udp());
}

std::string Tree::service_of(const ServerProcess& leaf) {
  return fmt::format("turn:{}?transport=udp", leaf.udp());
}

std::string cli_binary() {
  return TURNSCOUT_CLI_BIN;
}

}  // namespace turnscout::test
