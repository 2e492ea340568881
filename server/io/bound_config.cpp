#include "server/io/bound_config.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"

namespace turnscout::server {

ServerConfig with_bound_ports(ServerConfig config, std::span<const Endpoint> bound) {
  for (size_t i = 0; i < config.listen.size() && i < bound.size(); ++i) {
    const Endpoint configured = config.listen[i];
    if (configured.port != 0) continue;
    for (Endpoint& a : config.advertise) {
      if (a == configured) a.port = bound[i].port;
    }
    config.listen[i].port = bound[i].port;
  }
  return config;
}

std::vector<std::string> keep_restart_only_settings(const ServerConfig& running,
                                                    ServerConfig& next) {
  std::vector<std::string> ignored;
  if (next.listen != running.listen) {
    ignored.push_back(fmt::format("node.listen ({} → {})", fmt::join(running.listen, ", "),
                                  fmt::join(next.listen, ", ")));
    next.listen = running.listen;
  }
  if (next.log_json != running.log_json) {
    auto text = [](bool json) { return json ? "json" : "text"; };
    ignored.push_back(
        fmt::format("log.format ({} → {})", text(running.log_json), text(next.log_json)));
    next.log_json = running.log_json;
  }
  if (next.workers != running.workers) {
    ignored.push_back(fmt::format("workers ({} → {})", running.workers, next.workers));
    next.workers = running.workers;
  }
  if (next.streams.tcp != running.streams.tcp) {
    auto text = [](bool on) { return on ? "true" : "false"; };
    ignored.push_back(
        fmt::format("tcp.enabled ({} → {})", text(running.streams.tcp), text(next.streams.tcp)));
    next.streams.tcp = running.streams.tcp;
  }
  if (next.streams.tls_listen != running.streams.tls_listen ||
      next.streams.tls_cert_file != running.streams.tls_cert_file ||
      next.streams.tls_key_file != running.streams.tls_key_file) {
    ignored.push_back("tls.listen, tls.cert_file and tls.key_file");
    next.streams.tls_listen = running.streams.tls_listen;
    next.streams.tls_cert_file = running.streams.tls_cert_file;
    next.streams.tls_key_file = running.streams.tls_key_file;
  }
  if (next.metrics_listen != running.metrics_listen) {
    auto text = [](const std::optional<Endpoint>& e) { return e ? to_string(*e) : "off"; };
    ignored.push_back(fmt::format("metrics.listen ({} → {})", text(running.metrics_listen),
                                  text(next.metrics_listen)));
    next.metrics_listen = running.metrics_listen;
  }
  return ignored;
}

}  // namespace turnscout::server
