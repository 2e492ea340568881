#include "tools/cluster/server_yaml.hpp"

#include <iterator>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "server/config/config_yaml.hpp"

namespace turnscout::cluster {
namespace {

// A YAML double-quoted scalar: JSON's string syntax is valid YAML, escapes included. YAML
// is Unicode text: bytes that are not UTF-8 become U+FFFD (see server_yaml.hpp).
std::string yaml_string(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string address_list(const std::vector<Endpoint>& addresses) {
  std::string out = "[";
  for (const Endpoint& a : addresses)
    out += (out.size() > 1 ? ", " : "") + yaml_string(to_string(a));
  return out + "]";
}

std::string fraction(uint16_t permille) {
  return fmt::format("{}.{:03}", permille / 1000, permille % 1000);
}

}  // namespace

Result<std::string, std::string> server_config_yaml(const server::ServerConfig& c,
                                                    const std::string& display_name) {
  std::string y;
  auto out = std::back_inserter(y);
  fmt::format_to(out, "node:\n  name: {}\n  listen: {}\n", yaml_string(c.name),
                 address_list(c.listen));
  if (!c.advertise.empty()) fmt::format_to(out, "  advertise: {}\n", address_list(c.advertise));
  fmt::format_to(out, "  weight: {}\n", c.weight);
  std::vector<Endpoint> parents;
  for (const server::ParentConfig& p : c.parents)
    parents.push_back(p.address);
  if (!parents.empty()) fmt::format_to(out, "parents: {}\n", address_list(parents));
  if (!c.children.empty()) y += "children:\n";
  for (const server::StaticChildConfig& child : c.children) {
    fmt::format_to(out, "  - {{name: {}, address: {}, weight: {}}}\n", yaml_string(child.name),
                   yaml_string(to_string(child.address)), child.weight);
  }
  if (!c.cluster.key.empty()) {
    fmt::format_to(out, "cluster: {{key: {}}}\n", yaml_string(c.cluster.key));
  }
  fmt::format_to(out, "heartbeat: {{interval: {}, missed: {}}}\n",
                 format_duration(c.heartbeat.interval), c.heartbeat.missed);
  fmt::format_to(out, "load: {{source: static, value: {}}}\n", fraction(c.load.static_permille));
  fmt::format_to(out,
                 "listing: {{strategy: {}, max_children: {}, overload: {}, grandchildren: {}}}\n",
                 server::strategy_name(c.listing.strategy), c.listing.max_children,
                 fraction(c.listing.overload_permille), c.listing.grandchildren);
  fmt::format_to(out, "admission: {{enabled: {}}}\n", c.admission.enabled);
  if (!c.services.empty()) {
    y += "services: [";
    for (size_t i = 0; i < c.services.size(); ++i)
      y += (i == 0 ? "" : ", ") + yaml_string(c.services[i]);
    y += "]\n";
  }
  if (c.metrics_listen) {
    fmt::format_to(out, "metrics: {{listen: {}}}\n", yaml_string(to_string(*c.metrics_listen)));
  }
  if (!c.streams.tls_cert_file.empty()) {
    fmt::format_to(out, "tls: {{cert_file: {}, key_file: {}}}\n",
                   yaml_string(c.streams.tls_cert_file), yaml_string(c.streams.tls_key_file));
  }
  fmt::format_to(out, "log: {{level: {}}}\nworkers: {}\n", c.log_level, c.workers);

  auto check = server::parse_server_config(y, display_name, "");
  if (!check) {
    std::string errors;
    for (const std::string& line : check.error())
      errors += (errors.empty() ? "" : "\n") + line;
    return unexpected(std::move(errors));
  }
  return y;
}

}  // namespace turnscout::cluster
