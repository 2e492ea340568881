// turnscout: the command-line client. `probe` finds a TURN server through a tree of
// balance servers (using the public SDK), `stats` reads a server's metrics, `token issue`
// prints a capacity token.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include <turnscout/types.hpp>

#include "client/cli/exit_codes.hpp"
#include "client/cli/probe_command.hpp"
#include "client/cli/stats_command.hpp"
#include "client/cli/token_command.hpp"
#include "tools/cluster/cluster_command.hpp"

namespace {

constexpr const char* kExamples = R"(Examples:
  turnscout probe 192.0.2.1:3478
  turnscout probe scout.example.org --json
  turnscout stats 127.0.0.1:9471
  turnscout token issue --key-file token.key --tier 1 --expires 24h

Run `turnscout SUBCOMMAND --help` for the options of each.)";

}  // namespace

int main(int argc, char** argv) {
  using namespace turnscout::cli;
  // `turnscout cluster` runs servers in this process: a client that resets its connection
  // while a reply is being written must not kill it.
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app(
      "turnscout: find the nearest TURN server with room, through a tree of "
      "turnscout balance servers");
  app.footer(kExamples);
  app.set_version_flag("--version", std::string("turnscout ") + turnscout::version());
  app.require_subcommand(1);
  ProbeArgs probe_args;
  StatsArgs stats_args;
  TokenArgs token_args;
  CLI::App* probe = add_probe_command(app, probe_args);
  CLI::App* stats = add_stats_command(app, stats_args);
  add_token_command(app, token_args);
  turnscout::cluster::ClusterArgs cluster_args;
  CLI::App* cluster = turnscout::cluster::add_cluster_command(app, cluster_args);
  // CLI11 would only say "A subcommand is required": name what was typed.
  if (argc > 1 && argv[1][0] != '-') {
    const std::string_view word = argv[1];
    bool known = false;
    std::string names;
    for (const CLI::App* sub : app.get_subcommands({})) {
      known = known || sub->get_name() == word;
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "turnscout: unknown command \"%.*s\" (expected one of: %s)\n",
                   static_cast<int>(std::min<size_t>(word.size(), 64)), argv[1], names.c_str());
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (probe->parsed()) return run_probe(probe_args);
  if (stats->parsed()) return run_stats(stats_args);
  if (cluster->parsed()) return turnscout::cluster::run_cluster(cluster_args);
  return run_token_issue(token_args);
}
