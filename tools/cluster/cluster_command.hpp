// `turnscout cluster TOPOLOGY.yaml`: runs a whole deployment described by a topology file
// on this machine (virtual nodes on loopback, or with --processes one turnscout-server
// process per node, each behind an impairment proxy), prints a table of the nodes and the
// root addresses once the tree has converged, and runs until SIGINT or SIGTERM.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "base/result.hpp"

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
  bool check = false;         // Load the topology, print a summary, exit.
  bool processes = false;     // One turnscout-server process per node.
  std::string server_binary;  // Process mode; empty: default_server_binary().
  std::string work_dir;       // Process mode; empty: a temporary one.
  bool block_udp = false;     // ClusterOptions::block_udp.
  bool ipv6 = false;          // Every node and proxy on [::1].
  std::string tls_cert;       // ClusterOptions::tls_cert_file.
  std::string tls_key;        // ClusterOptions::tls_key_file.
};

// Where `turnscout cluster --processes` finds turnscout-server when not told: next to the
// running turnscout `executable` (installed layout), else at its place in the build tree
// (build/X/client/cli/turnscout → build/X/server/io/turnscout-server). The error says
// where it looked and to pass --server-binary.
Result<std::string, std::string> default_server_binary(const std::string& executable);

// Registers the subcommand; `args` receives its options and must outlive parsing. When the
// returned subcommand was parsed, the caller runs run_cluster(args).
CLI::App* add_cluster_command(CLI::App& app, ClusterArgs& args);

// Runs the cluster in this thread until a signal (or a failure); returns the exit code.
int run_cluster(const ClusterArgs& args);

}  // namespace turnscout::cluster
