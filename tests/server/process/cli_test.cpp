// The turnscout-server command line: --check-config, --version, --help, token issue, and a
// plain STUN Binding request to a running server.
#include <doctest/doctest.h>

#include <filesystem>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "proto/base64url.hpp"
#include "proto/capacity_token.hpp"
#include "proto/message_view.hpp"
#include "tests/server/process/server_process.hpp"

namespace turnscout::test {
namespace {

constexpr auto kCommandTimeout = std::chrono::seconds{20};

CommandResult run_server_command(const TempDir& dir, const std::vector<std::string>& args) {
  auto result = run_command(server_binary(), args, dir.file("command.log"), kCommandTimeout);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error()));
  REQUIRE_MESSAGE(!result->timed_out, "timed out: " << result->output);
  return std::move(*result);
}

constexpr ExitStatus kExit0{.exited = true, .code = 0};
constexpr ExitStatus kExit1{.exited = true, .code = 1};

}  // namespace

TEST_CASE("process: --check-config exits 0 on a good config, 1 with file:line:col on a bad one") {
  TempDir dir("turnscout-cli");
  const std::string good = dir.write("good.yaml", node_yaml({.name = "good"}));
  auto ok = run_server_command(dir, {"--config", good, "--check-config"});
  CHECK_MESSAGE(ok.status == kExit0, ok.output);

  const std::string bad =
      dir.write("bad.yaml",
                "node:\n  name: bad\n  listen: [\"127.0.0.1:0\"]\nlisting: {strategy: fastest}\n");
  auto refused = run_server_command(dir, {"--config", bad, "--check-config"});
  CHECK(refused.status == kExit1);
  CHECK_MESSAGE(refused.output.find("bad.yaml:4:") != std::string::npos, refused.output);

  auto missing = run_server_command(dir, {"--config", dir.file("nope.yaml"), "--check-config"});
  CHECK(missing.status == kExit1);
  CHECK(missing.output.find("nope.yaml") != std::string::npos);
}

TEST_CASE("process: --version, --help and usage errors") {
  TempDir dir("turnscout-cli");
  auto version = run_server_command(dir, {"--version"});
  CHECK(version.status == kExit0);
  CHECK(version.output.find("turnscout-server") != std::string::npos);
  auto help = run_server_command(dir, {"--help"});
  CHECK(help.status == kExit0);
  CHECK(help.output.find("token issue") != std::string::npos);
  CHECK(run_server_command(dir, {}).status == ExitStatus{.exited = true, .code = 2});
  CHECK(run_server_command(dir, {"--bogus"}).status == ExitStatus{.exited = true, .code = 2});
}

TEST_CASE("process: token issue prints a capacity token signed with the token key") {
  TempDir dir("turnscout-token");
  const std::string key = "a-token-key-of-enough-bytes-42";
  const std::string key_file = dir.write_secret("token.key", key + "\n");
  auto issued = run_server_command(dir, {"token", "issue", "--key-file", key_file, "--tier", "2",
                                         "--expires", "1h", "--client-id", "198.51.100.23"});
  REQUIRE_MESSAGE(issued.status == kExit0, issued.output);
  std::string text = issued.output;
  while (!text.empty() && text.back() == '\n')
    text.pop_back();
  auto bytes = proto::base64url_decode(text);
  REQUIRE_MESSAGE(bytes.ok(), text);
  const auto now_s = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
  const std::span<const uint8_t> key_bytes(reinterpret_cast<const uint8_t*>(key.data()),
                                           key.size());
  auto token = proto::verify_capacity_token(*bytes, key_bytes, now_s, "198.51.100.23");
  REQUIRE(token.ok());
  CHECK(token->tier == 2);
  CHECK(token->expiry_unix_s > now_s + 3500);
  CHECK(token->expiry_unix_s <= now_s + 3601);
  CHECK(proto::verify_capacity_token(*bytes, key_bytes, now_s, "198.51.100.24").error() ==
        proto::TokenErrc::kWrongClient);

  // A key others can read, or one printed in our documents, signs nothing.
  const std::string open_file = dir.write("open.key", key + "\n");
  std::filesystem::permissions(
      open_file, std::filesystem::perms::owner_read | std::filesystem::perms::others_read);
  auto refused =
      run_server_command(dir, {"token", "issue", "--key-file", open_file, "--tier", "1"});
  CHECK(refused.status == kExit1);
  CHECK(refused.output.find("is accessible by other users (mode 0404)") != std::string::npos);
  const std::string documented = dir.write_secret("doc.key", "turnscout-example-cluster-key\n");
  auto example =
      run_server_command(dir, {"token", "issue", "--key-file", documented, "--tier", "1"});
  CHECK(example.status == kExit1);
  CHECK(example.output.find("is an example key from turnscout's documentation") !=
        std::string::npos);

  auto tier0 = run_server_command(dir, {"token", "issue", "--key-file", key_file, "--tier", "0"});
  CHECK(tier0.status == ExitStatus{.exited = true, .code = 2});
  auto bad_expiry = run_server_command(
      dir, {"token", "issue", "--key-file", key_file, "--tier", "1", "--expires", "soon"});
  CHECK(bad_expiry.status == kExit1);
  CHECK(bad_expiry.output.find("--expires") != std::string::npos);
}

TEST_CASE("process: a plain STUN Binding request gets an RFC 8489 answer") {
  TempDir dir("turnscout-binding");
  auto server = ServerProcess::start(dir, NodeOptions{.name = "stun"});
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error()));
  auto client = UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));
  REQUIRE(client.ok());

  auto response = client->binding((*server)->udp(), std::chrono::seconds{2});
  REQUIRE_MESSAGE(response.ok(), (response.ok() ? "" : response.error()));
  CHECK(response->mapped == client->local());
  CHECK(response->fingerprint);

  // Byte level: a success response (0x0101), and no more than 1.6× the request.
  std::array<uint8_t, 64> request{};
  auto size = proto::encode_binding_request({client->next_transaction_id(), true}, request);
  REQUIRE(size.ok());
  auto raw =
      client->exchange((*server)->udp(), std::span(request).first(*size), std::chrono::seconds{2});
  REQUIRE(raw.ok());
  auto view = proto::parse_message(raw->bytes);
  REQUIRE(view.ok());
  CHECK(view->type() == 0x0101);
  CHECK(raw->bytes.size() * 10 <= *size * 16);
}

TEST_CASE("process: a token from `token issue` raises the client's tier in Probe replies") {
  TempDir dir("turnscout-tier");
  const std::string key_file = dir.write_secret("token.key", std::string(kTestTokenKey) + "\n");
  auto issued = run_server_command(
      dir, {"token", "issue", "--key-file", key_file, "--tier", "1", "--expires", "10m"});
  REQUIRE_MESSAGE(issued.status == kExit0, issued.output);
  auto token = proto::base64url_decode(issued.output.substr(0, issued.output.find('\n')));
  REQUIRE(token.ok());

  NodeOptions options{.name = "tiered", .leaf = true};
  options.extra_tiers = "    gold: {id: 1, burst: 200, refill: 50}\n";
  auto server = ServerProcess::start(dir, options);
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error()));
  auto client = UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));
  REQUIRE(client.ok());

  proto::ProbeRequest request;
  request.pad_to = proto::kRecommendedRequestSize;
  auto free = client->probe((*server)->udp(), request, std::chrono::seconds{2});
  REQUIRE_MESSAGE(free.ok(), (free.ok() ? "" : free.error()));
  CHECK(free->flow_control.tier == 0);
  CHECK(free->flow_control.burst_tokens == 1000);
  request.capacity_token = *token;
  auto gold = client->probe((*server)->udp(), request, std::chrono::seconds{2});
  REQUIRE_MESSAGE(gold.ok(), (gold.ok() ? "" : gold.error()));
  CHECK(gold->flow_control.tier == 1);
  CHECK(gold->flow_control.burst_tokens == 200);
}

}  // namespace turnscout::test
