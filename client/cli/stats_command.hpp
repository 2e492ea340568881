// `turnscout stats ADDR`: fetches a server's Prometheus metrics over HTTP and prints the
// ones an operator looks at first, readably.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/http/prometheus.hpp"

namespace turnscout::cli {

struct StatsArgs {
  std::string address;
  std::string path = "/metrics";
  std::string timeout = "2s";
  bool raw = false;
};

CLI::App* add_stats_command(CLI::App& app, StatsArgs& args);
int run_stats(const StatsArgs& args);

// The summary printed for `samples`.
std::string format_stats(const std::vector<Sample>& samples);

}  // namespace turnscout::cli
