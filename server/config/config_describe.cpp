#include "server/config/config_yaml.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "base/quote.hpp"
#include "common/format.hpp"

namespace turnscout::server {
namespace {

std::string join_endpoints(const std::vector<Endpoint>& list) {
  if (list.empty()) return "none";
  return fmt::format("{}", fmt::join(list, ", "));
}

std::string describe_children(const ServerConfig& cfg) {
  std::vector<std::string> listed;
  for (const StaticChildConfig& child : cfg.children) {
    listed.push_back(fmt::format("{} at {} (weight {})", child.name, child.address, child.weight));
  }
  return fmt::format("{}; dynamic children {}",
                     listed.empty() ? "none listed" : fmt::format("{}", fmt::join(listed, ", ")),
                     cfg.cluster.accept_dynamic_children ? "accepted" : "refused");
}

// Where a key came from and how long it is; never the key.
std::string describe_secret(const std::string& key, const std::string& file) {
  if (file.empty()) return fmt::format("{} bytes, inline", key.size());
  return fmt::format("{} bytes from {}", key.size(), turnscout::quoted_path(file));
}

std::string describe_key(const ClusterConfig& cluster) {
  if (cluster.key.empty()) return "none: heartbeats are not signed";
  std::string text = describe_secret(cluster.key, cluster.key_file);
  if (!cluster.accept_key.empty()) {
    text += "; also accepted: " + describe_secret(cluster.accept_key, cluster.accept_key_file);
  }
  return text;
}

std::string describe_token_key(const AdmissionConfig& admission) {
  if (admission.token_key.empty()) return "none: capacity tokens are ignored";
  std::string text = describe_secret(admission.token_key, admission.token_key_file);
  if (!admission.accept_token_key.empty()) {
    text += "; also accepted: " +
            describe_secret(admission.accept_token_key, admission.accept_token_key_file);
  }
  return text;
}

std::string describe_load(const LoadConfig& load) {
  std::string text;
  switch (load.source) {
    case LoadSourceKind::kStatic:
      text = fmt::format("static {:g}", load.static_permille / 1000.0);
      break;
    case LoadSourceKind::kHost:
      text = fmt::format("host CPU and network against {} Mbit/s, every {}", load.capacity_mbps,
                         format_duration(load.refresh));
      break;
    case LoadSourceKind::kFile:
      text = fmt::format("file {}, every {}", turnscout::quoted_path(load.file),
                         format_duration(load.refresh));
      break;
  }
  if (load.capacity != 0) text += fmt::format("; capacity {}", load.capacity);
  return text;
}

std::string describe_admission(const AdmissionConfig& admission) {
  if (!admission.enabled) return "off";
  return fmt::format("on, costs probe {} binding {} other {}, up to {} clients (IPv6 per /{})",
                     admission.probe_cost, admission.binding_cost, admission.other_cost,
                     admission.max_clients, admission.ipv6_prefix);
}

std::string describe_tiers(const AdmissionConfig& admission) {
  std::vector<std::string> tiers;
  for (const TierConfig& tier : admission.tiers) {
    tiers.push_back(fmt::format("{} (id {}) burst {:g} refill {:g}/s", tier.name, tier.id,
                                tier.burst, tier.refill_per_second));
  }
  return fmt::format("{}", fmt::join(tiers, ", "));
}

}  // namespace

std::string_view strategy_name(Strategy strategy) {
  switch (strategy) {
    case Strategy::kAll:
      return "all";
    case Strategy::kRoundRobin:
      return "round-robin";
    case Strategy::kWeighted:
      return "weighted";
    case Strategy::kLeastLoad:
      return "least-load";
    case Strategy::kRandom:
      return "random";
    case Strategy::kTwoChoice:
      return "two-choice";
    case Strategy::kIpHash:
      return "ip-hash";
  }
  return "unknown";
}

std::string_view load_source_name(LoadSourceKind source) {
  switch (source) {
    case LoadSourceKind::kStatic:
      return "static";
    case LoadSourceKind::kHost:
      return "host";
    case LoadSourceKind::kFile:
      return "file";
  }
  return "unknown";
}

std::string describe(const ServerConfig& cfg) {
  std::vector<std::string> services = cfg.services;
  if (services.empty()) services.emplace_back("none");
  const ListingConfig& listing = cfg.listing;
  const std::string heartbeat = fmt::format(
      "every {}, dead after {} missed, replay window {}", format_duration(cfg.heartbeat.interval),
      cfg.heartbeat.missed, format_duration(cfg.heartbeat.replay_window));
  const std::string listing_text = fmt::format(
      "{}, up to {} children per reply, overload at {:g}{}", strategy_name(listing.strategy),
      listing.max_children, listing.overload_permille / 1000.0,
      listing.grandchildren ? ", grandchildren passed on" : ", no grandchildren");
  std::string out;
  out += fmt::format("node {} (weight {}), {} worker{}, log level {}{}\n", cfg.name, cfg.weight,
                     cfg.workers, cfg.workers == 1 ? "" : "s", cfg.log_level,
                     cfg.log_json ? " (JSON lines)" : "");
  out += fmt::format("  listen:      {}\n", join_endpoints(cfg.listen));
  out += fmt::format("  advertise:   {}\n", join_endpoints(cfg.advertise));
  std::vector<Endpoint> parents;
  for (const ParentConfig& parent : cfg.parents) {
    parents.push_back(parent.address);
  }
  out += fmt::format("  parents:     {}\n", join_endpoints(parents));
  out += fmt::format("  children:    {}\n", describe_children(cfg));
  out += fmt::format("  cluster key: {}\n", describe_key(cfg.cluster));
  out += fmt::format("  heartbeat:   {}\n", heartbeat);
  out += fmt::format("  load:        {}\n", describe_load(cfg.load));
  out += fmt::format("  listing:     {}\n", listing_text);
  out += fmt::format("  admission:   {}\n", describe_admission(cfg.admission));
  if (cfg.admission.enabled) {
    out += fmt::format("  tiers:       {}\n", describe_tiers(cfg.admission));
    out += fmt::format("  token key:   {}\n", describe_token_key(cfg.admission));
  }
  out += fmt::format("  services:    {}\n", fmt::join(services, ", "));
  const StreamConfig& st = cfg.streams;
  out += fmt::format(
      "  streams:     TCP {}, TLS {}; {} connections, {} per source, first request within {}, "
      "idle {}, requests up to {} bytes, {} bytes queued per connection\n",
      st.tcp ? "on the listen addresses" : "off",
      st.tls_listen.empty() ? std::string("off")
                            : fmt::format("on {} (certificate {}, handshake within {})",
                                          join_endpoints(st.tls_listen), st.tls_cert_file,
                                          format_duration(st.handshake_timeout)),
      st.max_connections, st.max_per_source, format_duration(st.first_request_timeout),
      format_duration(st.idle_timeout), st.max_request_size, st.max_write_queue);
  out += fmt::format("  metrics:     {}\n",
                     cfg.metrics_listen ? to_string(*cfg.metrics_listen) : "off");
  return out;
}

namespace {

// describe()'s lines as (label, value): "node" for the first, the text before ':' after.
std::vector<std::pair<std::string, std::string>> labelled_lines(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (out.empty()) {
      out.emplace_back("node", line.substr(std::min<size_t>(line.size(), 5)));
      continue;
    }
    const size_t colon = line.find(':');
    const size_t first = line.find_first_not_of(' ');
    if (colon == std::string::npos || first == std::string::npos || first > colon) {
      out.emplace_back(line, line);
      continue;
    }
    const size_t value = line.find_first_not_of(' ', colon + 1);
    out.emplace_back(line.substr(first, colon - first),
                     value == std::string::npos ? std::string() : line.substr(value));
  }
  return out;
}

}  // namespace

std::vector<std::string> describe_changes(const ServerConfig& before, const ServerConfig& after) {
  const auto old_lines = labelled_lines(describe(before));
  const auto new_lines = labelled_lines(describe(after));
  auto find = [](const auto& lines, const std::string& label) {
    return std::find_if(lines.begin(), lines.end(),
                        [&label](const auto& line) { return line.first == label; });
  };
  std::vector<std::string> changes;
  for (const auto& line : new_lines) {
    const auto old = find(old_lines, line.first);
    if (old == old_lines.end()) {
      changes.push_back(fmt::format("{}: {} (new)", line.first, line.second));
    } else if (old->second != line.second) {
      changes.push_back(fmt::format("{}: {} → {}", line.first, old->second, line.second));
    }
  }
  for (const auto& line : old_lines) {
    if (find(new_lines, line.first) == new_lines.end()) {
      changes.push_back(fmt::format("{}: {} (gone)", line.first, line.second));
    }
  }
  return changes;
}

}  // namespace turnscout::server
