// Signals on real servers: SIGTERM sends Leave (the parent drops the child at once) and
// exits 0 within 2 s; SIGHUP reloads, and a broken config on SIGHUP is refused.
#include <signal.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "tests/server/process/server_process.hpp"
#include "tests/support/wait.hpp"

namespace turnscout::test {
namespace {

constexpr auto kPoll = std::chrono::milliseconds{20};
constexpr auto kConverge = std::chrono::seconds{10};

std::unique_ptr<ServerProcess> start_node(const TempDir& dir, const NodeOptions& options) {
  auto server = ServerProcess::start(dir, options);
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error()));
  return std::move(*server);
}

UdpClient open_client() {
  auto client = UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));
  REQUIRE(client.ok());
  return std::move(*client);
}

size_t count_listed(UdpClient& client, const Endpoint& server) {
  auto children = listed_children(client, server);
  return children ? children->size() : 0;
}

}  // namespace

TEST_CASE("process: SIGTERM sends Leave, the parent drops the child at once, exit 0 in 2 s") {
  TempDir dir("turnscout-sigterm");
  // A dead child would take 100ms × 30 = 3 s to notice: only a Leave explains a fast drop.
  const auto slow_death = NodeOptions{.interval = std::chrono::milliseconds{100}, .missed = 30};
  NodeOptions parent_options = slow_death;
  parent_options.name = "parent";
  auto parent = start_node(dir, parent_options);
  NodeOptions child_options = slow_death;
  child_options.name = "child";
  child_options.parents = {parent->udp()};
  child_options.leaf = true;
  // With a load file re-read only hourly, no timer of the child's falls due while it drains:
  // the end of the drain must be noticed when the parent's Leave acknowledgement arrives.
  dir.write("load.txt", "0.3\n");
  child_options.extra_yaml = "load: {source: file, file: load.txt, refresh: 1h}\n";
  auto child = start_node(dir, child_options);
  UdpClient client = open_client();
  REQUIRE(wait_until(kConverge, kPoll,
                     [&] { return lists(listed_children(client, parent->udp()), child->udp()); }));
  REQUIRE(listed_children(client, child->udp()).has_value());  // It answers probes.

  REQUIRE(child->process().send_signal(SIGTERM));
  const auto sent_at = std::chrono::steady_clock::now();
  const bool dropped = wait_until(std::chrono::seconds{3}, kPoll, [&] {
    return !lists(listed_children(client, parent->udp()), child->udp());
  });
  const Duration drop_time = since(sent_at);
  CHECK(dropped);
  CHECK_MESSAGE(drop_time < std::chrono::milliseconds{1000},
                "parent dropped the child after "
                    << std::chrono::duration_cast<std::chrono::milliseconds>(drop_time).count()
                    << " ms");

  auto status = child->process().wait(std::chrono::seconds{2} - since(sent_at));
  REQUIRE_MESSAGE(status.has_value(), "still running 2 s after SIGTERM:\n" << child->output());
  const Duration exit_time = since(sent_at);
  CHECK(*status == ExitStatus{.exited = true, .code = 0});
  CHECK_MESSAGE(exit_time < std::chrono::milliseconds{1500}, child->output());
  CHECK_MESSAGE(child->output().find("drain complete") != std::string::npos, child->output());
  CHECK_MESSAGE(child->output().find("drain timed out") == std::string::npos, child->output());
}

TEST_CASE("process: SIGHUP applies a changed listing; a broken config is refused") {
  TempDir dir("turnscout-sighup");
  NodeOptions parent_options{.name = "parent", .max_children = 1};
  auto parent = start_node(dir, parent_options);
  auto child1 = start_node(dir, {.name = "child-1", .parents = {parent->udp()}, .leaf = true});
  auto child2 = start_node(dir, {.name = "child-2", .parents = {parent->udp()}, .leaf = true});
  UdpClient client = open_client();
  // With max_children 1 only one of the two live children is listed.
  REQUIRE(wait_until(kConverge, kPoll, [&] { return count_listed(client, parent->udp()) == 1; }));

  parent_options.max_children = 8;
  dir.write("parent.yaml", node_yaml(parent_options));
  REQUIRE(parent->process().send_signal(SIGHUP));
  CHECK(wait_until(std::chrono::seconds{5}, kPoll,
                   [&] { return count_listed(client, parent->udp()) == 2; }));

  std::string broken = node_yaml(parent_options);
  broken.replace(broken.find("least-load"), 10, "fastest");
  dir.write("parent.yaml", broken);
  REQUIRE(parent->process().send_signal(SIGHUP));
  CHECK(wait_until(std::chrono::seconds{5}, kPoll,
                   [&] { return parent->output().find("reload failed") != std::string::npos; }));
  // The error names the file, line and column; the server answers as before.
  CHECK(parent->output().find("parent.yaml:") != std::string::npos);
  CHECK(count_listed(client, parent->udp()) == 2);
  CHECK(parent->process().running());
}

TEST_CASE("process: a file load source is re-read every refresh and shows in Probe replies") {
  TempDir dir("turnscout-load");
  dir.write("load.txt", "0.25\n");
  NodeOptions options{.name = "loaded", .leaf = true};
  options.extra_yaml = "load: {source: file, file: load.txt, refresh: 100ms}\n";
  auto server = start_node(dir, options);
  UdpClient client = open_client();
  auto load_of = [&]() -> int {
    proto::ProbeRequest request;
    request.pad_to = proto::kRecommendedRequestSize;
    auto reply = client.probe(server->udp(), request, std::chrono::milliseconds{300});
    return reply ? reply->load.load_permille : -1;
  };
  CHECK(wait_until(std::chrono::seconds{5}, kPoll, [&] { return load_of() == 250; }));
  dir.write("load.txt", "60%");
  CHECK(wait_until(std::chrono::seconds{5}, kPoll, [&] { return load_of() == 600; }));
  // A broken file is reported once and the last good load kept.
  dir.write("load.txt", "busy");
  CHECK(wait_until(std::chrono::seconds{5}, kPoll,
                   [&] { return server->output().find("load.txt: ") != std::string::npos; }));
  CHECK(load_of() == 600);
}

// SO_REUSEPORT let a second server with the same config bind next to the first and take
// half its traffic (the parent saw the child leave and come back).
TEST_CASE("process: a second server on an address already served refuses to start") {
  TempDir dir("turnscout-claim");
  auto first = start_node(dir, NodeOptions{.name = "first", .leaf = true, .workers = 2});
  NodeOptions second_options{.name = "second", .leaf = true, .workers = 2};
  second_options.listen = to_string(first->udp());
  auto second = ServerProcess::start(dir, second_options);
  REQUIRE_FALSE(second.ok());
  INFO(second.error());
  CHECK(second.error().find("it exited") != std::string::npos);
  CHECK(second.error().find(fmt::format("{} is already served by another turnscout-server (pid {})",
                                        to_string(first->udp()), first->process().pid())) !=
        std::string::npos);
  // The first still answers, and once it is gone the address may be served again.
  UdpClient client = open_client();
  CHECK(listed_children(client, first->udp()).has_value());
  const Endpoint address = first->udp();
  REQUIRE(first->process().send_signal(SIGKILL));
  REQUIRE(first->process().wait(std::chrono::seconds{5}).has_value());
  second_options.listen = to_string(address);
  auto again = ServerProcess::start(dir, second_options);
  CHECK_MESSAGE(again.ok(), (again.ok() ? "" : again.error()));
}

}  // namespace turnscout::test
