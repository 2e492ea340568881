#include "server/config/config_yaml.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include <sys/stat.h>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "base/quote.hpp"
#include "common/format.hpp"
#include "common/logging.hpp"
#include "common/yaml.hpp"
#include "proto/attributes.hpp"
#include "proto/constants.hpp"
#include "proto/turn_uri.hpp"

namespace turnscout::server {
namespace {

constexpr size_t kMinKeySize = 16;
constexpr size_t kMaxKeySize = 4096;  // Reading stops there: /dev/zero cannot hang a load.
constexpr size_t kMaxAdvertised = 4;  // ADVERTISED-ADDRESS entries a heartbeat carries.
constexpr uint32_t kMaxWorkers = 64;
constexpr uint16_t kMaxChildrenPerReply = 1024;
constexpr uint16_t kMaxCost = 1000;
constexpr uint32_t kMaxClientsBound = 1u << 24;
constexpr double kMaxTokens = 1e6;  // FLOW-CONTROL carries tokens and millitokens in 32 bits.
constexpr std::string_view kFreeTier = "free";

// What the section readers share: how to resolve relative paths, the config being filled,
// and the values that checks across sections need after reading.
struct Loader {
  std::string base_dir;
  ServerConfig& cfg;
  std::optional<ConfigNode> listen;
  bool advertise_given = false;
  std::optional<ConfigNode> accept_dynamic;
  std::optional<ConfigNode> insecure;
  bool key_given = false;  // cluster.key or key_file is set (it may have failed to load).
  std::vector<std::pair<std::string, ConfigNode>> child_names;
  std::vector<ConfigNode> parent_nodes;
  // Index into cfg.children by name and by address: duplicates are found in O(1) each (a
  // config may list 100,000 children).
  std::unordered_map<std::string, size_t> child_by_name;
  std::unordered_map<Endpoint, size_t> child_by_address;
};

std::string resolve(const std::string& base_dir, const std::string& file) {
  const std::filesystem::path path(file);
  if (path.is_absolute() || base_dir.empty()) return file;
  return (std::filesystem::path(base_dir) / path).string();
}

uint16_t permille_of(double fraction) {
  return static_cast<uint16_t>(std::lround(fraction * 1000));
}

// Reads every item of `items` as an endpoint and returns the items read, in the order of
// `out`; reports repeats.
std::vector<ConfigNode> read_endpoints(std::vector<ConfigNode> items, std::vector<Endpoint>& out) {
  std::vector<ConfigNode> read;
  for (ConfigNode& item : items) {
    Endpoint ep;
    if (!item.read(ep)) continue;
    if (std::find(out.begin(), out.end(), ep) != out.end()) {
      item.error(fmt::format("{} is listed twice", ep));
      continue;
    }
    out.push_back(ep);
    read.push_back(item);
  }
  return read;
}

// An empty list, written "[]" or left blank, where one address is the least.
void require_items(ConfigNode& list, const std::vector<ConfigNode>& items) {
  if (items.empty() && (list.yaml().IsSequence() || list.yaml().IsNull())) {
    list.error("needs at least one address");
  }
}

// An address other nodes send to: neither a wildcard nor port 0.
bool check_reachable(ConfigNode& item, const Endpoint& ep, std::string_view who) {
  if (is_any(ep)) {
    item.error(fmt::format("{} is a wildcard address; {} need one they can reach", ep, who));
    return false;
  }
  if (ep.port == 0) {
    item.error(fmt::format("{} has port 0; {} need the real port", ep, who));
    return false;
  }
  return true;
}

void read_name(ConfigMap& map, std::string& out) {
  auto node = map.require("name");
  if (!node || !node->read(out)) return;
  if (!proto::valid_node_name(out)) {
    node->error(
        fmt::format("expected 1 to 64 of A-Z a-z 0-9 . _ -, got {}", turnscout::quoted(out)));
  }
}

void read_advertise(Loader& ld, ConfigMap& node) {
  auto list = node.get("advertise");
  if (!list) return;
  ld.advertise_given = true;
  std::vector<ConfigNode> items = list->sequence();
  require_items(*list, items);
  std::vector<ConfigNode> read = read_endpoints(items, ld.cfg.advertise);
  for (size_t i = 0; i < read.size(); ++i) {
    check_reachable(read[i], ld.cfg.advertise[i], "clients");
  }
  if (ld.cfg.advertise.size() > kMaxAdvertised) {
    list->error(
        fmt::format("at most {} addresses, got {}", kMaxAdvertised, ld.cfg.advertise.size()));
  }
}

void read_node(Loader& ld, ConfigMap root) {
  ConfigMap node = root.map("node");
  read_name(node, ld.cfg.name);
  ld.listen = node.require("listen");
  if (ld.listen) {
    std::vector<ConfigNode> items = ld.listen->sequence();
    require_items(*ld.listen, items);
    read_endpoints(items, ld.cfg.listen);
  }
  read_advertise(ld, node);
  node.optional("weight", ld.cfg.weight, uint16_t{1}, uint16_t{65535});
}

void read_parents(Loader& ld, ConfigMap root) {
  std::vector<Endpoint> addresses;
  std::vector<ConfigNode> read = read_endpoints(root.optional_sequence("parents"), addresses);
  for (size_t i = 0; i < read.size(); ++i) {
    if (!check_reachable(read[i], addresses[i], "heartbeats")) continue;
    ld.cfg.parents.push_back({addresses[i]});
    ld.parent_nodes.push_back(read[i]);
  }
}

void read_child(Loader& ld, ConfigNode item) {
  ConfigMap map = item.map();
  if (!map.valid()) return;
  StaticChildConfig child;
  read_name(map, child.name);
  auto address = map.require("address");
  if (address && address->read(child.address)) {
    check_reachable(*address, child.address, "static children");
  }
  map.optional("weight", child.weight, uint16_t{1}, uint16_t{65535});
  auto name = map.get("name");
  const size_t index = ld.cfg.children.size();
  if (name && !child.name.empty()) {
    auto [it, fresh] = ld.child_by_name.try_emplace(child.name, index);
    if (!fresh) {
      name->error(fmt::format("{} is already the name of children[{}]",
                              turnscout::quoted(child.name), it->second));
    }
  }
  if (address && child.address.valid()) {
    auto [it, fresh] = ld.child_by_address.try_emplace(child.address, index);
    if (!fresh) {
      address->error(
          fmt::format("{} is already the address of children[{}]", child.address, it->second));
    }
  }
  if (name && !child.name.empty()) ld.child_names.emplace_back(child.name, *name);
  ld.cfg.children.push_back(std::move(child));
}

// Keys printed in our own documents and examples. Anyone can sign with them, so a server
// refuses them rather than run with a key that protects nothing.
constexpr std::array<std::string_view, 2> kDocumentedKeys = {
    "turnscout-example-cluster-key",              // proto/PROTOCOL.md's examples.
    "example-cluster-key-replace-me-0123456789",  // Earlier example configs.
};

// `path` as a word of the shell command a message suggests: as it is when it holds only
// characters a shell takes literally, otherwise quoted and escaped (never a raw control
// byte or line break in an error line).
std::string shell_path(const std::string& path) {
  const bool plain = !path.empty() && std::all_of(path.begin(), path.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("/._-+=:,@%").find(c) != std::string_view::npos;
  });
  return plain ? path : turnscout::quoted_path(path);
}

// The key file's bytes without trailing line breaks, or an error. Like ssh with a private
// key, a file that other users can read (or that anyone but its owner can write) is
// refused: whoever reads it can sign heartbeats or mint capacity tokens.
Result<std::string, std::string> read_key_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int err = errno;
    return unexpected(fmt::format(
        "cannot read {}: {}{}", turnscout::quoted_path(path), std::strerror(err),
        err == ENOENT ? fmt::format("; make one with (umask 077; openssl rand -hex 32 > {})",
                                    shell_path(path))
                      : ""));
  }
  struct stat st {};
  if (::fstat(::fileno(file), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) != 0) {
    std::fclose(file);
    return unexpected(fmt::format(
        "{} is accessible by other users (mode {:04o}): run chmod 600 {} (or 640 for a group "
        "the server runs in)",
        turnscout::quoted_path(path), st.st_mode & 07777, shell_path(path)));
  }
  std::string key(kMaxKeySize + 1, '\0');
  const size_t n = std::fread(key.data(), 1, key.size(), file);
  const int err = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (err != 0) {
    return unexpected(
        fmt::format("cannot read {}: {}", turnscout::quoted_path(path), std::strerror(err)));
  }
  if (n > kMaxKeySize) {
    return unexpected(
        fmt::format("{} is longer than {} bytes", turnscout::quoted_path(path), kMaxKeySize));
  }
  key.resize(n);
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r'))
    key.pop_back();
  if (key.empty()) return unexpected(fmt::format("{} is empty", turnscout::quoted_path(path)));
  return key;
}

// What is wrong with `key` (named `what` in the message), if anything.
std::optional<std::string> key_problem(const std::string& key, std::string_view what) {
  if (key.size() < kMinKeySize) {
    return fmt::format("{} is {} bytes; use at least {} random bytes", what, key.size(),
                       kMinKeySize);
  }
  if (std::find(kDocumentedKeys.begin(), kDocumentedKeys.end(), key) != kDocumentedKeys.end()) {
    return fmt::format(
        "{} is an example key from turnscout's documentation, which anyone can sign with: make "
        "one with (umask 077; openssl rand -hex 32 > FILE)",
        what);
  }
  return std::nullopt;
}

void check_key(ConfigNode& node, const std::string& key, std::string_view what) {
  if (auto problem = key_problem(key, what)) node.error(*problem);
}

// A secret given inline as `name` or read from the file `name`_file, into `key` and `file`.
// Returns the node it came from, for checks across keys.
std::optional<ConfigNode> read_secret(Loader& ld, ConfigMap& map, std::string_view section,
                                      std::string_view name, std::string& key, std::string& file) {
  const std::string file_key = fmt::format("{}_file", name);
  auto inline_node = map.get(name);
  auto file_node = map.get(file_key);
  if (inline_node && file_node) {
    file_node->error(fmt::format("set {0}.{1} or {0}.{2}, not both", section, name, file_key));
    return file_node;
  }
  if (inline_node) {
    if (inline_node->read(key)) check_key(*inline_node, key, "the key");
    return inline_node;
  }
  std::string path;
  if (!file_node || !file_node->read(path)) return file_node;
  file = resolve(ld.base_dir, path);
  auto read = read_key_file(file);
  if (!read) {
    file_node->error(read.error());
    return file_node;
  }
  key = std::move(*read);
  check_key(*file_node, key, fmt::format("the key in {}", turnscout::quoted_path(file)));
  return file_node;
}

void read_cluster(Loader& ld, ConfigMap root) {
  ConfigMap cluster = root.optional_map("cluster");
  ClusterConfig& out = ld.cfg.cluster;
  ld.accept_dynamic = cluster.get("accept_dynamic_children");
  if (ld.accept_dynamic) ld.accept_dynamic->read(out.accept_dynamic_children);
  cluster.optional("max_dynamic_children", out.max_dynamic_children, 1u, 1'000'000u);
  ld.insecure = cluster.get("insecure");
  if (ld.insecure) ld.insecure->read(out.insecure);
  cluster.optional("registrations_per_source", out.registrations_per_source, 1u, 1'000'000u);
  ld.key_given = read_secret(ld, cluster, "cluster", "key", out.key, out.key_file).has_value();
  auto accept =
      read_secret(ld, cluster, "cluster", "accept_key", out.accept_key, out.accept_key_file);
  if (accept && !out.accept_key.empty() && out.key.empty()) {
    accept->error("is a second key for a rotation; set cluster.key_file (the key to sign with)");
  }
}

void read_heartbeat(Loader& ld, ConfigMap root) {
  ConfigMap hb = root.optional_map("heartbeat");
  HeartbeatConfig& out = ld.cfg.heartbeat;
  hb.optional("interval", out.interval, Duration{50ms}, Duration{60s});
  hb.optional("missed", out.missed, 2u, 100u);
  hb.optional("replay_window", out.replay_window, Duration{1s}, Duration{1h});
}

// Settings of a load source other than the chosen one are refused rather than ignored:
// an operator who wrote them expects them to matter.
void refuse_unless(ConfigMap& load, std::string_view key, bool applies, std::string_view source) {
  auto node = load.get(key);
  if (node && !applies) {
    node->error(fmt::format("not used with source: {}", source));
  }
}

void read_load(Loader& ld, ConfigMap root) {
  ConfigMap load = root.optional_map("load");
  LoadConfig& out = ld.cfg.load;
  load.optional_one_of("source", out.source,
                       {{"static", LoadSourceKind::kStatic},
                        {"host", LoadSourceKind::kHost},
                        {"file", LoadSourceKind::kFile}});
  const std::string_view source = load_source_name(out.source);
  const bool is_static = out.source == LoadSourceKind::kStatic;
  const bool is_host = out.source == LoadSourceKind::kHost;
  const bool is_file = out.source == LoadSourceKind::kFile;
  double value = 0;
  if (is_static && load.optional("value", value, 0.0, 10.0)) {
    out.static_permille = permille_of(value);
  }
  if (is_file && load.required("file", out.file)) out.file = resolve(ld.base_dir, out.file);
  if (is_host) load.optional("capacity_mbps", out.capacity_mbps, uint64_t{1}, uint64_t{10'000'000});
  if (!is_static) load.optional("refresh", out.refresh, Duration{100ms}, Duration{1h});
  refuse_unless(load, "value", is_static, source);
  refuse_unless(load, "file", is_file, source);
  refuse_unless(load, "capacity_mbps", is_host, source);
  refuse_unless(load, "refresh", !is_static, source);
  load.optional("capacity", out.capacity);
}

void read_listing(Loader& ld, ConfigMap root) {
  ConfigMap listing = root.optional_map("listing");
  ListingConfig& out = ld.cfg.listing;
  listing.optional_one_of("strategy", out.strategy,
                          {{"all", Strategy::kAll},
                           {"round-robin", Strategy::kRoundRobin},
                           {"weighted", Strategy::kWeighted},
                           {"least-load", Strategy::kLeastLoad},
                           {"random", Strategy::kRandom},
                           {"two-choice", Strategy::kTwoChoice},
                           {"ip-hash", Strategy::kIpHash}});
  listing.optional("max_children", out.max_children, uint16_t{0}, kMaxChildrenPerReply);
  listing.optional("grandchildren", out.grandchildren);
  double overload = 0;
  if (listing.optional("overload", overload, 0.001, 10.0)) {
    out.overload_permille = permille_of(overload);
  }
}

struct TierEntry {
  TierConfig tier;
  ConfigNode burst;  // Where a burst too small for the request costs is reported.
  ConfigNode node;   // The tier's entry.
};

// One entry of admission.tiers; `tiers` holds those read before, for the id check.
void read_tier(const std::string& name, ConfigNode node, std::vector<TierEntry>& tiers) {
  ConfigMap map = node.map();
  if (!map.valid()) return;
  if (!proto::valid_node_name(name)) node.error("tier names are 1 to 64 of A-Z a-z 0-9 . _ -");
  TierConfig tier;
  tier.name = name;
  const bool free = name == kFreeTier;
  auto id = free ? map.get("id") : map.require("id");
  const uint8_t min_id = free ? 0 : 1;
  if (id && id->read(tier.id, min_id, 255)) {
    if (free && tier.id != 0) {
      id->error("the free tier is id 0");
      tier.id = 0;
    }
    for (const TierEntry& other : tiers) {
      if (other.tier.id == tier.id) {
        id->error(
            fmt::format("id {} is already tier {}", tier.id, turnscout::quoted(other.tier.name)));
      }
    }
  }
  if (free) {
    map.optional("burst", tier.burst, 1.0, kMaxTokens);
    map.optional("refill", tier.refill_per_second, 0.001, kMaxTokens);
  } else {
    map.required("burst", tier.burst, 1.0, kMaxTokens);
    map.required("refill", tier.refill_per_second, 0.001, kMaxTokens);
  }
  tiers.push_back({std::move(tier), map.get("burst").value_or(node), node});
}

void read_admission(Loader& ld, ConfigMap root) {
  ConfigMap admission = root.optional_map("admission");
  AdmissionConfig& out = ld.cfg.admission;
  admission.optional("enabled", out.enabled);
  admission.optional("probe_cost", out.probe_cost, uint16_t{1}, kMaxCost);
  admission.optional("binding_cost", out.binding_cost, uint16_t{1}, kMaxCost);
  admission.optional("other_cost", out.other_cost, uint16_t{1}, kMaxCost);
  admission.optional("max_clients", out.max_clients, 1u, kMaxClientsBound);
  admission.optional("ipv6_prefix", out.ipv6_prefix, uint8_t{32}, uint8_t{128});
  admission.optional("unknown_control_rate", out.unknown_control_rate, 1.0, kMaxTokens);
  read_secret(ld, admission, "admission", "token_key", out.token_key, out.token_key_file);
  auto accept = read_secret(ld, admission, "admission", "accept_token_key", out.accept_token_key,
                            out.accept_token_key_file);
  if (accept && !out.accept_token_key.empty() && out.token_key.empty()) {
    accept->error(
        "is a second key for a rotation; set admission.token_key_file (the key tokens are "
        "issued with)");
  }
  std::vector<TierEntry> tiers;
  for (auto& [name, node] : admission.optional_map("tiers").entries()) {
    read_tier(name, node, tiers);
  }
  // A tier above free is reached only with a verified capacity token.
  if (out.enabled && out.token_key.empty()) {
    for (TierEntry& entry : tiers) {
      if (entry.tier.name == kFreeTier) continue;
      entry.node.error(fmt::format(
          "no client can reach tier {}: capacity tokens need admission.token_key_file to be "
          "verified",
          turnscout::quoted(entry.tier.name)));
      break;
    }
  }
  const uint16_t max_cost = std::max({out.probe_cost, out.binding_cost, out.other_cost});
  TierConfig free_tier;
  free_tier.name = kFreeTier;
  out.tiers.assign(1, free_tier);
  for (TierEntry& entry : tiers) {
    if (entry.tier.burst < max_cost) {
      entry.burst.error(fmt::format("{:g} tokens cannot pay for a request that costs {}",
                                    entry.tier.burst, max_cost));
    }
    if (entry.tier.name == kFreeTier) {
      out.tiers.front() = std::move(entry.tier);
    } else {
      out.tiers.push_back(std::move(entry.tier));
    }
  }
}

std::string describe_uri_error(const proto::DecodeError& error) {
  std::string_view field = error.where;
  if (field.starts_with("uri.")) field.remove_prefix(4);
  return fmt::format("bad {} at character {}", field, error.offset + 1);
}

void read_services(Loader& ld, ConfigMap root) {
  for (ConfigNode& item : root.optional_sequence("services")) {
    std::string text;
    if (!item.read(text)) continue;
    auto uri = proto::parse_turn_uri(text);
    const bool too_long = !proto::valid_service_text(text) && text.size() > 255;
    if (too_long || !uri) {
      const std::string why = too_long ? "longer than 255 bytes" : describe_uri_error(uri.error());
      item.error(
          fmt::format("expected a URI like turn:198.51.100.21:3478?transport=udp, got {} ({})",
                      turnscout::quoted(text), why));
      continue;
    }
    auto& services = ld.cfg.services;
    if (std::find(services.begin(), services.end(), text) != services.end()) {
      item.error(fmt::format("{} is listed twice", turnscout::quoted(text)));
      continue;
    }
    services.push_back(std::move(text));
  }
}

// A file the server reads at start: it must be there and readable now, so --check-config
// catches a wrong path before a restart does.
void read_existing_file(Loader& ld, ConfigNode node, std::string& out) {
  std::string path;
  if (!node.read(path)) return;
  out = resolve(ld.base_dir, path);
  std::FILE* file = std::fopen(out.c_str(), "rb");
  if (file == nullptr) {
    node.error(
        fmt::format("cannot read {}: {}", turnscout::quoted_path(out), std::strerror(errno)));
    return;
  }
  std::fclose(file);
}

void read_streams(Loader& ld, ConfigMap root) {
  StreamConfig& out = ld.cfg.streams;
  ConfigMap tcp = root.optional_map("tcp");
  tcp.optional("enabled", out.tcp);
  tcp.optional("max_connections", out.max_connections, 1u, 1'000'000u);
  tcp.optional("max_per_source", out.max_per_source, 1u, 1'000'000u);
  tcp.optional("first_request_timeout", out.first_request_timeout, Duration{100ms},
               Duration{10min});
  tcp.optional("idle_timeout", out.idle_timeout, Duration{100ms}, Duration{1h});
  tcp.optional("max_request_size", out.max_request_size, 548u,
               static_cast<uint32_t>(proto::kMaxMessageSize));
  tcp.optional("max_write_queue", out.max_write_queue, 4096u, 64u << 20);

  ConfigMap tls = root.optional_map("tls");
  auto listen = tls.get("listen");
  if (listen) {
    std::vector<ConfigNode> items = listen->sequence();
    require_items(*listen, items);
    read_endpoints(items, out.tls_listen);
  }
  auto cert = tls.get("cert_file");
  auto key = tls.get("key_file");
  if (cert) read_existing_file(ld, *cert, out.tls_cert_file);
  if (key) read_existing_file(ld, *key, out.tls_key_file);
  tls.optional("handshake_timeout", out.handshake_timeout, Duration{100ms}, Duration{1min});
  if (listen && !out.tls_listen.empty() && (!cert || !key)) {
    listen->error("needs tls.cert_file and tls.key_file (PEM) to serve TLS");
  }
  const bool listens = listen && !out.tls_listen.empty();
  if (!listens && cert.has_value() != key.has_value()) {
    (cert ? *cert : *key)
        .error(cert ? "needs tls.key_file (the certificate's private key)"
                    : "needs tls.cert_file (the certificate it belongs to)");
  }
  if ((cert || key) && !out.tcp && !listens) {
    (cert ? *cert : *key)
        .error(
            "is not used: TLS is served on tls.listen and on the TCP ports, and there are "
            "neither (tcp.enabled is false)");
  }
  for (const Endpoint& at : out.tls_listen) {
    if (out.tcp && at.port != 0 &&
        std::find(ld.cfg.listen.begin(), ld.cfg.listen.end(), at) != ld.cfg.listen.end()) {
      listen->error(fmt::format(
          "{} is also a node.listen address, which serves TCP there: pick another port for TLS "
          "(443 is usual) or set tcp.enabled: false",
          at));
    }
  }
}

void read_operations(Loader& ld, ConfigMap root) {
  ConfigMap metrics = root.optional_map("metrics");
  metrics.optional("listen", ld.cfg.metrics_listen);
  ConfigMap log = root.optional_map("log");
  if (auto level = log.get("level"); level && level->read(ld.cfg.log_level)) {
    if (auto parsed = parse_log_level(ld.cfg.log_level); !parsed) level->error(parsed.error());
  }
  log.optional_one_of("format", ld.cfg.log_json, {{"text", false}, {"json", true}});
  root.optional("workers", ld.cfg.workers, 1u, kMaxWorkers);
}

// Without node.advertise, the listen addresses that are not wildcards. A root has nobody
// to advertise to, so only a node with parents needs them to be complete.
void default_advertise(Loader& ld) {
  ServerConfig& cfg = ld.cfg;
  std::optional<Endpoint> wildcard;
  for (const Endpoint& ep : cfg.listen) {
    if (!is_any(ep)) cfg.advertise.push_back(ep);
    if (is_any(ep) && !wildcard) wildcard = ep;
  }
  if (cfg.parents.empty() || !ld.listen) return;
  if (wildcard) {
    ld.listen->error(fmt::format(
        "{} is a wildcard address and this node has parents: they give clients the "
        "node.advertise addresses, which default to the listen addresses; set node.advertise "
        "to the addresses clients can reach",
        *wildcard));
  } else if (cfg.advertise.size() > kMaxAdvertised) {
    ld.listen->error(fmt::format(
        "more than {} addresses and this node has parents: a heartbeat advertises at most {}; "
        "set node.advertise",
        kMaxAdvertised, kMaxAdvertised));
  }
}

// Checks that need several sections at once.
void check_addresses(Loader& ld) {
  ServerConfig& cfg = ld.cfg;
  if (!ld.advertise_given) default_advertise(ld);
  for (size_t i = 0; i < ld.parent_nodes.size(); ++i) {
    const Endpoint& parent = cfg.parents[i].address;
    auto same_family = [&parent](const Endpoint& ep) { return ep.family == parent.family; };
    if (std::find(cfg.listen.begin(), cfg.listen.end(), parent) != cfg.listen.end()) {
      ld.parent_nodes[i].error(fmt::format("{} is this node's own listen address", parent));
    } else if (!cfg.listen.empty() &&
               std::none_of(cfg.listen.begin(), cfg.listen.end(), same_family)) {
      ld.parent_nodes[i].error(fmt::format(
          "{} is IPv{} and no listen address is: heartbeats are sent from a listen socket", parent,
          parent.family == Family::kV4 ? 4 : 6));
    }
  }
  for (auto& [name, node] : ld.child_names) {
    if (name == cfg.name) {
      node.error(fmt::format("{} is this node's own name", turnscout::quoted(name)));
    }
  }
}

void check_cluster(Loader& ld) {
  const ClusterConfig& cluster = ld.cfg.cluster;
  // A key that was given but could not be used has its own error; do not pile more on.
  if (cluster.key.empty() && ld.key_given) return;
  if (cluster.accept_dynamic_children && cluster.key.empty() && ld.accept_dynamic) {
    ld.accept_dynamic->error(
        "needs a cluster key (cluster.key or cluster.key_file) to verify the heartbeats of "
        "children that are not listed");
  }
  // Heartbeats without a key prove only a source address, which anyone can forge: a listed
  // child's address sends clients anywhere, or marks the child gone. Fine on loopback;
  // elsewhere only when the operator says so.
  const ServerConfig& cfg = ld.cfg;
  const bool heartbeats = !cfg.parents.empty() || !cfg.children.empty();
  if (!cluster.key.empty() || cluster.insecure || !heartbeats || !ld.listen) return;
  for (const Endpoint& e : cfg.listen) {
    if (is_loopback(e)) continue;
    ld.listen->error(fmt::format(
        "{} is reachable from other hosts, and heartbeats without a cluster key can be forged "
        "by anyone who spoofs a source address: set cluster.key_file (or cluster.key), or "
        "cluster.insecure: true to accept that",
        e));
    return;
  }
}

Result<ServerConfig, ConfigErrors> parse_document(const YamlDocument& doc, std::string base_dir) {
  ServerConfig cfg;
  cfg.source_file = doc.name();
  ConfigReader reader(doc);
  Loader ld{std::move(base_dir), cfg, {}, false, {}, {}, false, {}, {}, {}, {}};
  ConfigMap root = reader.root().map();
  read_node(ld, root);
  read_parents(ld, root);
  for (ConfigNode& item : root.optional_sequence("children")) {
    read_child(ld, item);
  }
  read_cluster(ld, root);
  read_heartbeat(ld, root);
  read_load(ld, root);
  read_listing(ld, root);
  read_admission(ld, root);
  read_services(ld, root);
  read_streams(ld, root);
  read_operations(ld, root);
  check_addresses(ld);
  check_cluster(ld);
  ConfigErrors errors = reader.finish();
  if (!errors.empty()) return unexpected(std::move(errors));
  return cfg;
}

}  // namespace

Result<std::string, std::string> load_key_file(const std::string& path) {
  auto key = read_key_file(path);
  if (!key) return key;
  if (auto problem =
          key_problem(*key, fmt::format("the key in {}", turnscout::quoted_path(path)))) {
    return unexpected(std::move(*problem));
  }
  return key;
}

Result<ServerConfig, ConfigErrors> load_server_config(const std::string& path) {
  auto doc = YamlDocument::load_file(path);
  if (!doc) return unexpected(ConfigErrors{doc.error()});
  return parse_document(*doc, std::filesystem::path(path).parent_path().string());
}

Result<ServerConfig, ConfigErrors> parse_server_config(std::string_view yaml_text,
                                                       std::string display_name,
                                                       std::string base_dir) {
  auto doc = YamlDocument::load_string(yaml_text, std::move(display_name));
  if (!doc) return unexpected(ConfigErrors{doc.error()});
  return parse_document(*doc, std::move(base_dir));
}

}  // namespace turnscout::server
