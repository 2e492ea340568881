// `turnscout token issue`: prints a capacity token signed with the cluster key, the same
// token `turnscout-server token issue` prints (both use proto/capacity_token.hpp).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace turnscout::cli {

struct TokenArgs {
  std::string key_file;
  unsigned tier = 1;
  std::string expires = "24h";
  std::string client_id;
};

CLI::App* add_token_command(CLI::App& app, TokenArgs& args);
int run_token_issue(const TokenArgs& args);

}  // namespace turnscout::cli
