// `turnscout probe ROOT...`: one discovery through the public SDK, printed like traceroute
// (one line per hop), then the chosen TURN URIs, the backups, the reflexive address and the
// peers' errors; or the whole result as JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <turnscout/types.hpp>

#include "client/cli/terminal.hpp"

namespace turnscout::cli {

struct ProbeArgs {
  std::vector<std::string> roots;
  std::vector<std::string> blacklist;
  std::string timeout;  // Empty: 2s, or 5s with --all.
  bool all = false;     // A survey (DiscoverOptions::survey) and every answer in the report.
  bool no_verify = false;
  bool json = false;
  std::string selection = "load-aware";
  std::string token;
  uint32_t attempts = 5;
  bool allow_any_scope = false;
  uint32_t max_probes = 64;
  uint32_t max_bindings = 32;
  std::string transport = "auto";  // TransportMode: auto, udp, tcp or tls.
  std::string tls_ca;              // DiscoverOptions::tls_ca_file.
  bool tls_insecure = false;
  bool no_speculate = false;
};

CLI::App* add_probe_command(CLI::App& app, ProbeArgs& args);
// Runs the discovery and prints it; returns the exit code.
int run_probe(const ProbeArgs& args);

// The human-readable report (stdout); for a failure only the peers' errors, if any.
std::string format_report(const DiscoveryResult& result);
// The report after the hops in `shown` were printed as they came (format_hop): the path is
// repeated only when the final one differs.
// With `answers`, every server that answered is listed too (--all). `style` colours it.
std::string format_report(const DiscoveryResult& result, const std::vector<Hop>& shown,
                          bool answers = false, const Style& style = {});
// One warning per hop that served the free tier although a capacity token was sent.
std::vector<std::string> unhonoured_token(const std::vector<Hop>& path);
// One hop line as printed while the walk goes on (columns of a fixed minimum width).
std::string format_hop(const Hop& hop, const Style& style = {});
// The one line explaining a failure (stderr), e.g. "no TURN server found: every root ...".
std::string failure_line(const DiscoveryResult& result);
int exit_code(const DiscoveryResult& result);

}  // namespace turnscout::cli
