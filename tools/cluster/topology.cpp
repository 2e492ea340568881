#include "tools/cluster/topology.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <map>
#include <numeric>
#include <utility>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "base/quote.hpp"
#include "common/format.hpp"
#include "common/yaml.hpp"
#include "proto/attributes.hpp"
#include "proto/turn_uri.hpp"

namespace turnscout::cluster {
namespace {

constexpr Duration kMaxDelay = std::chrono::seconds{10};

// Strategy names as the server's YAML spells them.
const std::initializer_list<std::pair<std::string_view, server::Strategy>> kStrategies = {
    {"all", server::Strategy::kAll},           {"round-robin", server::Strategy::kRoundRobin},
    {"weighted", server::Strategy::kWeighted}, {"least-load", server::Strategy::kLeastLoad},
    {"random", server::Strategy::kRandom},     {"two-choice", server::Strategy::kTwoChoice},
    {"ip-hash", server::Strategy::kIpHash},
};

uint16_t to_permille(double fraction) {
  return static_cast<uint16_t>(std::lround(fraction * 1000.0));
}

struct PendingParent {
  size_t node;
  std::string name;
  ConfigNode where;
};

class Loader {
 public:
  explicit Loader(ConfigReader& reader) : reader_(reader) {}

  void read(Topology& out);

 private:
  void read_link(ConfigMap map, Link& link);
  void read_listing(ConfigMap map, server::ListingConfig& listing);
  void read_addresses(ConfigMap map, Topology& out);
  void read_node(ConfigNode node, std::optional<size_t> parent, uint32_t depth, const Link& link,
                 const server::ListingConfig& listing, Topology& out);
  void read_services(ConfigMap map, TopologyNode& node);
  void resolve_also_parents(Topology& out);
  void check_leaves(Topology& out);

  ConfigReader& reader_;
  std::map<std::string, ConfigNode, std::less<>> name_at_;
  std::vector<PendingParent> also_;
};

void Loader::read_link(ConfigMap map, Link& link) {
  map.optional("delay", link.delay, Duration::zero(), kMaxDelay);
  map.optional("jitter", link.jitter, Duration::zero(), kMaxDelay);
  map.optional("loss", link.loss, 0.0, 1.0);
}

void Loader::read_listing(ConfigMap map, server::ListingConfig& listing) {
  map.optional_one_of("strategy", listing.strategy, kStrategies);
  map.optional("max_children", listing.max_children, 0, 1024);
  map.optional("grandchildren", listing.grandchildren);
  double overload = 0;
  if (map.optional("overload", overload, 0.001, 10.0)) {
    listing.overload_permille = to_permille(overload);
  }
}

void Loader::read_addresses(ConfigMap map, Topology& out) {
  for (auto [key, target] : {std::pair{"nodes", &out.node_base}, {"proxies", &out.proxy_base}}) {
    auto node = map.get(key);
    if (!node) continue;
    Endpoint base;
    if (!node->read(base)) continue;
    if (!is_loopback(base) || (base.family == Family::kV6 && base.port != 0)) {
      node->error(
          "expected a loopback address with a port: \"127.1.0.1:0\" (one address per node, "
          "counting up; port 0: any) or \"[::1]:0\" (every node on it, each on a port of its "
          "own)");
      continue;
    }
    *target = base;
  }
}

void Loader::read_services(ConfigMap map, TopologyNode& node) {
  // Checked with the placeholders filled in, as the cluster will start them.
  const Endpoint sample = Endpoint::v4(127, 0, 0, 1, 3478);
  for (ConfigNode& item : map.optional_sequence("services")) {
    std::string text;
    if (!item.read(text)) continue;
    const std::string expanded = expand_service(text, sample, sample);
    if (!proto::valid_service_text(expanded) || !proto::parse_turn_uri(expanded)) {
      item.error(fmt::format(
          "expected a URI like turn:198.51.100.21:3478?transport=udp or turn:{}, got {}",
          kProxyPlaceholder, turnscout::quoted(text)));
      continue;
    }
    for (const std::string& seen : node.services) {
      if (seen == text) item.error(fmt::format("{} is listed twice", turnscout::quoted(text)));
    }
    node.services.push_back(std::move(text));
  }
}

void Loader::read_node(ConfigNode node, std::optional<size_t> parent, uint32_t depth,
                       const Link& link, const server::ListingConfig& listing, Topology& out) {
  ConfigMap map = node.map();
  if (!map.valid()) return;
  const size_t index = out.nodes.size();
  out.nodes.emplace_back();
  {
    TopologyNode& n = out.nodes.back();
    n.depth = depth;
    n.link = link;
    n.listing = listing;
    if (parent) n.parents.push_back(*parent);
    if (auto name = map.require("name"); name && name->read(n.name)) {
      if (!proto::valid_node_name(n.name)) {
        name->error("expected 1 to 64 of A-Z a-z 0-9 . _ -, got " + turnscout::quoted(n.name));
      } else if (auto [it, fresh] = name_at_.emplace(n.name, *name); !fresh) {
        const YAML::Mark first = it->second.mark();
        name->error(fmt::format("node {} is already defined at line {}", turnscout::quoted(n.name),
                                first.line + 1));
      }
    }
    read_link(map.optional_map("link"), n.link);
    double load = 0;
    if (map.optional("load", load, 0.0, 10.0)) n.load_permille = to_permille(load);
    map.optional_one_of("state", n.state,
                        {{"active", NodeState::kActive}, {"draining", NodeState::kDraining}});
    map.optional("weight", n.weight, 1, 65535);
    read_listing(map, n.listing);
    read_services(map, n);
  }
  for (ConfigNode& name : map.optional_sequence("also_parents")) {
    std::string text;
    if (!name.read(text)) continue;
    if (depth == 0) {
      name.error("a root (a top-level node) has no parents");
      continue;
    }
    also_.push_back({index, std::move(text), name});
  }
  // Copies: out.nodes grows below.
  const Link child_link = out.nodes[index].link;
  const server::ListingConfig child_listing = listing;
  for (ConfigNode& child : map.optional_sequence("children")) {
    read_node(child, index, depth + 1, child_link, child_listing, out);
  }
}

void Loader::resolve_also_parents(Topology& out) {
  for (PendingParent& p : also_) {
    auto parent = out.find(p.name);
    TopologyNode& node = out.nodes[p.node];
    if (!parent) {
      p.where.error("no node is named " + turnscout::quoted(p.name));
    } else if (out.nodes[*parent].depth >= node.depth) {
      // Parents strictly above a node keep the graph free of cycles.
      p.where.error(fmt::format("{} (depth {}) must be above {} (depth {})",
                                turnscout::quoted(p.name), out.nodes[*parent].depth,
                                turnscout::quoted(node.name), node.depth));
    } else if (std::find(node.parents.begin(), node.parents.end(), *parent) != node.parents.end()) {
      p.where.error(turnscout::quoted(p.name) + " is already a parent of " +
                    turnscout::quoted(node.name));
    } else {
      node.parents.push_back(*parent);
    }
  }
  for (size_t i = 0; i < out.nodes.size(); ++i) {
    for (size_t parent : out.nodes[i].parents)
      out.nodes[parent].children.push_back(i);
  }
}

void Loader::check_leaves(Topology& out) {
  for (const TopologyNode& n : out.nodes) {
    if (!n.children.empty() || !n.services.empty()) continue;
    auto at = name_at_.find(n.name);
    if (at != name_at_.end()) {
      at->second.error(turnscout::quoted(n.name) +
                       " has neither children nor services: clients would find nothing there");
    }
  }
}

void Loader::read(Topology& out) {
  ConfigMap root = reader_.root().map();
  ConfigMap defaults = root.optional_map("defaults");
  defaults.optional("heartbeat", out.defaults.heartbeat, std::chrono::milliseconds{20},
                    std::chrono::minutes{1});
  defaults.optional("missed", out.defaults.missed, 2, 100);
  defaults.optional("admission", out.defaults.admission);
  read_link(defaults.optional_map("link"), out.defaults.link);
  read_listing(defaults, out.defaults.listing);
  read_addresses(root.optional_map("addresses"), out);

  auto roots = root.require("roots");
  if (roots) {
    std::vector<ConfigNode> entries = roots->sequence();
    if (entries.empty() && roots->yaml().IsSequence()) roots->error("expected at least one node");
    for (ConfigNode& entry : entries) {
      read_node(entry, std::nullopt, 0, out.defaults.link, out.defaults.listing, out);
    }
  }
  resolve_also_parents(out);
  check_leaves(out);
}

}  // namespace

const char* to_string(NodeState state) {
  return state == NodeState::kDraining ? "draining" : "active";
}

std::optional<size_t> Topology::find(std::string_view name) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].name == name) return i;
  }
  return std::nullopt;
}

Result<Topology, TopologyErrors> parse_topology(std::string_view yaml_text,
                                                std::string display_name) {
  auto doc = YamlDocument::load_string(yaml_text, display_name);
  if (!doc) return unexpected(TopologyErrors{doc.error()});
  Topology topology;
  topology.source = std::move(display_name);
  ConfigReader reader(*doc);
  Loader(reader).read(topology);
  TopologyErrors errors = reader.finish();
  if (!errors.empty()) return unexpected(std::move(errors));
  return topology;
}

Result<Topology, TopologyErrors> load_topology_file(const std::string& path) {
  auto doc = YamlDocument::load_file(path);
  if (!doc) return unexpected(TopologyErrors{doc.error()});
  Topology topology;
  topology.source = path;
  ConfigReader reader(*doc);
  Loader(reader).read(topology);
  TopologyErrors errors = reader.finish();
  if (!errors.empty()) return unexpected(std::move(errors));
  return topology;
}

std::optional<Endpoint> nth_address(const Endpoint& base, size_t index) {
  // IPv6 has one loopback address: every node shares it, each on a port of its own.
  if (base.family == Family::kV6) return is_loopback(base) ? std::optional(base) : std::nullopt;
  if (base.family != Family::kV4) return std::nullopt;
  uint64_t value = (uint64_t{base.ip[0]} << 24) | (uint64_t{base.ip[1]} << 16) |
                   (uint64_t{base.ip[2]} << 8) | uint64_t{base.ip[3]};
  for (size_t i = 0; i < index; ++i) {
    do {
      ++value;
    } while ((value & 0xff) == 0 || (value & 0xff) == 0xff);
    if (value > 0xffffffffull) return std::nullopt;
  }
  return Endpoint::v4(static_cast<uint8_t>(value >> 24), static_cast<uint8_t>(value >> 16),
                      static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value), base.port);
}

std::vector<uint32_t> expected_live_leaves(const Topology& topology) {
  // Every parent is above its children, so deepest first sees each child complete.
  std::vector<size_t> order(topology.nodes.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return topology.nodes[a].depth > topology.nodes[b].depth;
  });
  std::vector<uint32_t> leaves(topology.nodes.size(), 0);
  for (size_t i : order) {
    const TopologyNode& n = topology.nodes[i];
    leaves[i] = n.services.empty() ? 0 : 1;
    for (size_t child : n.children) {
      if (topology.nodes[child].state == NodeState::kActive) leaves[i] += leaves[child];
    }
  }
  return leaves;
}

std::string expand_service(std::string_view service, const Endpoint& proxy, const Endpoint& node) {
  std::string out(service);
  for (auto [placeholder, address] :
       {std::pair{kProxyPlaceholder, &proxy}, {kNodePlaceholder, &node}}) {
    const std::string text = to_string(*address);
    for (size_t at = out.find(placeholder); at != std::string::npos;
         at = out.find(placeholder, at + text.size())) {
      out.replace(at, placeholder.size(), text);
    }
  }
  return out;
}

}  // namespace turnscout::cluster
