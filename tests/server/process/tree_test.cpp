// A three-level tree of real servers on loopback: it converges, a killed leaf is dropped
// within interval × missed, and a restarted leaf is listed again.
#include <signal.h>

#include <doctest/doctest.h>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "tests/server/process/server_process.hpp"
#include "tests/support/wait.hpp"

namespace turnscout::test {
namespace {

constexpr auto kInterval = std::chrono::milliseconds{100};
constexpr uint32_t kMissed = 3;
// Scheduling slack on a loaded machine (sanitizer builds, tests in parallel).
constexpr auto kMargin = std::chrono::milliseconds{500};
constexpr auto kPoll = std::chrono::milliseconds{20};
constexpr auto kConverge = std::chrono::seconds{10};

struct Tree {
  TempDir dir{"turnscout-tree"};
  std::unique_ptr<ServerProcess> root, region, leaf1, leaf2;
};

std::unique_ptr<ServerProcess> start_node(const TempDir& dir, NodeOptions options) {
  options.interval = kInterval;
  options.missed = kMissed;
  auto server = ServerProcess::start(dir, options);
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error()));
  return std::move(*server);
}

void start_tree(Tree& t) {
  t.root = start_node(t.dir, {.name = "root"});
  t.region = start_node(t.dir, {.name = "region", .parents = {t.root->udp()}});
  t.leaf1 = start_node(t.dir, {.name = "leaf-1", .parents = {t.region->udp()}, .leaf = true});
  t.leaf2 = start_node(t.dir, {.name = "leaf-2", .parents = {t.region->udp()}, .leaf = true});
}

}  // namespace

TEST_CASE("process: a three-level tree converges, drops a killed leaf in time, re-admits it") {
  Tree t;
  start_tree(t);
  auto client = UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));
  REQUIRE(client.ok());

  const bool converged = wait_until(kConverge, kPoll, [&] {
    auto region_children = listed_children(*client, t.region->udp());
    return lists(listed_children(*client, t.root->udp()), t.region->udp()) &&
           lists(region_children, t.leaf1->udp()) && lists(region_children, t.leaf2->udp());
  });
  REQUIRE_MESSAGE(converged, "region output:\n" << t.region->output());
  auto root_children = listed_children(*client, t.root->udp());
  REQUIRE(root_children.has_value());
  CHECK(root_children->size() == 1);  // The leaves are the region's, not the root's.

  SUBCASE("kill -9 of a leaf: its parent stops listing it within interval × missed") {
    const Endpoint leaf1 = t.leaf1->udp();
    REQUIRE(t.leaf1->process().send_signal(SIGKILL));
    const auto killed_at = std::chrono::steady_clock::now();
    const bool dropped = wait_until(std::chrono::seconds{5}, kPoll, [&] {
      return !lists(listed_children(*client, t.region->udp()), leaf1);
    });
    const Duration took = since(killed_at);
    REQUIRE(dropped);
    CHECK_MESSAGE(took <= kInterval * kMissed + kMargin,
                  "dropped after "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms");
    CHECK(lists(listed_children(*client, t.region->udp()), t.leaf2->udp()));

    // Restarted on the same port, the leaf is listed again.
    t.leaf1.reset();
    t.leaf1 = start_node(t.dir, {.name = "leaf-1",
                                 .listen = fmt::format("{}", leaf1),
                                 .parents = {t.region->udp()},
                                 .leaf = true});
    CHECK(wait_until(kConverge, kPoll,
                     [&] { return lists(listed_children(*client, t.region->udp()), leaf1); }));
  }
}

}  // namespace turnscout::test
