// `turnscout cluster TOPOLOGY.yaml`: runs a whole deployment described by a topology file
// on this machine (virtual nodes on loopback, each behind an impairment proxy), prints a
// table of the nodes and the root addresses once the tree has converged, and runs until
// SIGINT or SIGTERM.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace turnscout::cluster {

// Exit codes of `turnscout cluster`.
inline constexpr int kClusterOk = 0;      // Stopped by SIGINT/SIGTERM, everything closed.
inline constexpr int kClusterFailed = 1;  // Could not start, or did not converge in time.
inline constexpr int kClusterUsage = 2;   // Bad option or topology file.

struct ClusterArgs {
  std::string topology;
  std::string state_file;  // Written (atomically) once converged; removed on exit.
  std::string timeout = "30s";
  std::string log_level = "warn";
  uint64_t seed = 1;
  bool check = false;  // Load the topology, print a summary, exit.
};

// Registers the subcommand; `args` receives its options and must outlive parsing. When the
// returned subcommand was parsed, the caller runs run_cluster(args).
CLI::App* add_cluster_command(CLI::App& app, ClusterArgs& args);

// Runs the cluster in this thread until a signal (or a failure); returns the exit code.
int run_cluster(const ClusterArgs& args);

}  // namespace turnscout::cluster
