// The metrics endpoint of a real server with two workers, scraped over HTTP and checked
// with promtool (Debian package prometheus).
#include <signal.h>

#include <doctest/doctest.h>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "tests/server/process/server_process.hpp"
#include "tests/support/wait.hpp"
#include "tools/http/http_get.hpp"

namespace turnscout::test {
namespace {

constexpr auto kHttpTimeout = std::chrono::seconds{5};
constexpr ExitStatus kExitedCleanly{.exited = true, .code = 0};

std::unique_ptr<ServerProcess> start_node(const TempDir& dir, const NodeOptions& options) {
  auto server = ServerProcess::start(dir, options);
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error()));
  return std::move(*server);
}

}  // namespace

TEST_CASE("process: two workers answer probes and forward heartbeats; metrics pass promtool") {
  const auto promtool = find_in_path("promtool");
  REQUIRE_MESSAGE(promtool.has_value(),
                  "promtool not found in PATH: install the Debian package prometheus");
  TempDir dir("turnscout-metrics");
  auto parent = start_node(dir, {.name = "parent", .metrics = true, .workers = 2});
  REQUIRE(parent->metrics().has_value());
  auto child = start_node(dir, {.name = "child", .parents = {parent->udp()}, .leaf = true});

  // Several client sockets, so the kernel spreads them over both workers' sockets.
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    auto client = UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0), seed);
    REQUIRE(client.ok());
    CHECK(wait_until(std::chrono::seconds{10}, std::chrono::milliseconds{20},
                     [&] { return lists(listed_children(*client, parent->udp()), child->udp()); }));
  }

  auto scraped = cli::http_get(*parent->metrics(), "/metrics", kHttpTimeout);
  REQUIRE_MESSAGE(scraped.ok(), (scraped.ok() ? "" : scraped.error()));
  CHECK(scraped->status == 200);
  CHECK(scraped->header("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(scraped->body.find("turnscout_requests_total{") != std::string::npos);
  CHECK(scraped->body.find("turnscout_io_datagrams_received_total{worker=\"1\"}") !=
        std::string::npos);
  for (const char* family :
       {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ",
        "process_max_fds ", "process_start_time_seconds "}) {
    CHECK_MESSAGE(scraped->body.find(std::string("\n") + family) != std::string::npos, family);
  }

  const std::string exposition = dir.write("metrics.txt", scraped->body);
  auto checked = run_command(*promtool, {"check", "metrics"}, dir.file("promtool.log"),
                             std::chrono::seconds{30}, exposition);
  REQUIRE(checked.ok());
  CHECK_MESSAGE(checked->status == kExitedCleanly, "promtool check metrics:\n"
                                                       << checked->output << "\nexposition:\n"
                                                       << scraped->body);

  auto missing = cli::http_get(*parent->metrics(), "/nothing-here", kHttpTimeout);
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
  auto junk = cli::http_raw(*parent->metrics(), "NOT HTTP\r\n\r\n", kHttpTimeout);
  REQUIRE(junk.ok());
  CHECK(junk->rfind("HTTP/1.1 400", 0) == 0);
}

TEST_CASE("process: /healthz is 200 while serving and 503 once draining") {
  TempDir dir("turnscout-healthz");
  // A parent that never answers, so the drain lasts until its timeout (1.5 s).
  auto silent = UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));
  REQUIRE(silent.ok());
  auto node = start_node(
      dir, {.name = "node", .parents = {silent->local()}, .leaf = true, .metrics = true});
  auto health = [&] {
    auto reply = cli::http_get(*node->metrics(), "/healthz", kHttpTimeout);
    return reply.ok() ? reply->status : -1;
  };
  CHECK(health() == 200);
  REQUIRE(node->process().send_signal(SIGTERM));
  CHECK(wait_until(std::chrono::seconds{1}, std::chrono::milliseconds{20},
                   [&] { return health() == 503; }));
  const auto status = node->process().wait(std::chrono::seconds{5});
  REQUIRE(status);
  CHECK(*status == kExitedCleanly);
}

}  // namespace turnscout::test
