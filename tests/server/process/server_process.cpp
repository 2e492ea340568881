#include "tests/server/process/server_process.hpp"

#include <filesystem>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "tests/support/wait.hpp"

namespace turnscout::test {
namespace {

// Generous: a sanitizer build on a busy machine starts slowly.
constexpr Duration kStartTimeout = std::chrono::seconds{15};
constexpr Duration kProbeTimeout = std::chrono::milliseconds{300};

Result<void, std::string> parse_ready_file(const std::string& text, std::vector<Endpoint>& udp,
                                           std::vector<Endpoint>& tcp, std::vector<Endpoint>& tls,
                                           std::optional<Endpoint>& metrics) {
  std::istringstream lines(text);
  std::string kind;
  std::string address;
  while (lines >> kind >> address) {
    auto ep = parse_endpoint(address);
    if (!ep) return unexpected(fmt::format("ready file: {}", ep.error()));
    if (kind == "udp") udp.push_back(*ep);
    if (kind == "tcp") tcp.push_back(*ep);
    if (kind == "tls") tls.push_back(*ep);
    if (kind == "metrics") metrics = *ep;
  }
  if (udp.empty()) return unexpected(fmt::format("ready file without udp lines: \"{}\"", text));
  return {};
}

}  // namespace

std::string node_yaml(const NodeOptions& o) {
  std::vector<std::string> parents;
  for (const Endpoint& p : o.parents)
    parents.push_back(fmt::format("\"{}\"", p));
  std::string yaml = fmt::format(
      "node:\n  name: {}\n  listen: [\"{}\"]\n"
      "parents: [{}]\n"
      "cluster: {{key: \"{}\", accept_dynamic_children: true}}\n"
      "heartbeat: {{interval: {}, missed: {}}}\n"
      "listing: {{strategy: least-load, max_children: {}}}\n"
      "admission:\n  token_key: \"{}\"\n  tiers:\n    free: {}\n{}"
      "log: {{level: debug}}\n"
      "workers: {}\n",
      o.name, o.listen, fmt::join(parents, ", "), kTestClusterKey, format_duration(o.interval),
      o.missed, o.max_children, kTestTokenKey, o.free_tier, o.extra_tiers, o.workers);
  if (o.leaf) yaml += "services: [\"turn:127.0.0.1:3478?transport=udp\"]\n";
  if (o.metrics) yaml += "metrics: {listen: \"127.0.0.1:0\"}\n";
  return yaml + o.extra_yaml;
}

std::string server_binary() {
  return TURNSCOUT_SERVER_BIN;
}

ServerProcess::ServerProcess(ChildProcess process, std::string config_path)
    : process_(std::move(process)), config_path_(std::move(config_path)) {}

Result<std::unique_ptr<ServerProcess>, std::string> ServerProcess::start(
    const TempDir& dir, const NodeOptions& options) {
  return start(dir, options.name, node_yaml(options));
}

Result<std::unique_ptr<ServerProcess>, std::string> ServerProcess::start(const TempDir& dir,
                                                                         const std::string& name,
                                                                         const std::string& yaml) {
  const std::string config = dir.write(name + ".yaml", yaml);
  const std::string ready = dir.file(name + ".ready");
  std::error_code ignored;
  std::filesystem::remove(ready, ignored);
  auto child = ChildProcess::spawn(server_binary(), {"--config", config, "--ready-file", ready},
                                   dir.file(name + ".log"));
  if (!child) return unexpected(child.error());
  std::unique_ptr<ServerProcess> server(new ServerProcess(std::move(*child), config));
  const bool up = wait_until(kStartTimeout, std::chrono::milliseconds{10}, [&] {
    return std::filesystem::exists(ready) || server->process_.wait(Duration::zero()).has_value();
  });
  if (!up || !std::filesystem::exists(ready)) {
    return unexpected(fmt::format("{} did not start ({}); output:\n{}", name,
                                  up ? "it exited" : "timed out", server->output()));
  }
  if (auto parsed = parse_ready_file(read_file(ready), server->udp_, server->tcp_, server->tls_,
                                     server->metrics_);
      !parsed) {
    return unexpected(parsed.error());
  }
  return server;
}

std::optional<std::vector<Endpoint>> listed_children(UdpClient& client, const Endpoint& server) {
  proto::ProbeRequest request;
  request.pad_to = proto::kRecommendedRequestSize;
  auto response = client.probe(server, request, kProbeTimeout);
  if (!response) return std::nullopt;
  std::vector<Endpoint> out;
  for (const proto::ChildEntry& c : response->children)
    out.push_back(c.address);
  return out;
}

bool lists(const std::optional<std::vector<Endpoint>>& children, const Endpoint& address) {
  if (!children) return false;
  for (const Endpoint& e : *children) {
    if (e == address) return true;
  }
  return false;
}

}  // namespace turnscout::test
