// turnscout-server: one balance server of the tree. Runs a node from a YAML config, checks
// a config, or issues a capacity token signed with the token key.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "base/duration.hpp"
#include "common/logging.hpp"
#include "proto/base64url.hpp"
#include "proto/capacity_token.hpp"
#include "server/config/config_yaml.hpp"
#include "server/io/control_plane.hpp"
#include "server/io/load_sampler.hpp"

namespace {

using namespace turnscout;
using namespace turnscout::server;

constexpr const char* kExamples = R"(Examples:
  turnscout-server --config /etc/turnscout/leaf.yaml
  turnscout-server --config leaf.yaml --check-config
  turnscout-server token issue --key-file token.key --tier 1 --expires 24h
  turnscout-server token issue --key-file token.key --tier 2 --expires 30m --client-id 198.51.100.23

Signals: SIGHUP reloads the config (a bad one is refused and the running one kept);
SIGTERM or SIGINT sends Leave to the parents and exits within 2 s.
With --exit-with-parent the server also gets SIGTERM when the process that started it ends,
even by SIGKILL (how `turnscout cluster --processes` makes sure no node outlives it).)";

struct TokenOptions {
  std::string key_file;
  unsigned tier = 1;
  std::string expires = "24h";
  std::string client_id;
};

void print_errors(const ConfigErrors& errors) {
  for (const std::string& line : errors)
    std::fprintf(stderr, "%s\n", line.c_str());
}

int check_config(const std::string& path) {
  auto config = load_server_config(path);
  if (!config) {
    print_errors(config.error());
    return 1;
  }
  std::printf("%s: OK\n%s\n", path.c_str(), describe(*config).c_str());
  return 0;
}

int run_server(const ServerOptions& options) {
  auto config = load_server_config(options.config_path);
  if (!config) {
    print_errors(config.error());
    return 1;
  }
  const std::string& level = options.log_level.empty() ? config->log_level : options.log_level;
  if (auto logging = init_logging(level); !logging) {
    std::fprintf(stderr, "%s\n", logging.error().c_str());
    return 1;
  }
  if (config->log_json) (void)set_log_format("json");
  // A metrics, TCP or TLS client that hangs up mid-response must not kill the server.
  ::signal(SIGPIPE, SIG_IGN);
  logger().info("turnscout-server {} starting from {}", TURNSCOUT_VERSION, options.config_path);
  ControlPlane node(std::move(*config), options);
  if (auto started = node.start(); !started) {
    logger().error("{}", started.error());
    return 1;
  }
  return node.run();
}

// Asks the kernel for SIGTERM (handled like an operator's: Leave, then exit) when the parent
// ends. A parent that ended before the request took effect is seen as a changed parent pid.
bool exit_with_parent() {
  const pid_t parent = ::getppid();
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
    std::perror("--exit-with-parent: prctl(PR_SET_PDEATHSIG)");
    return false;
  }
  if (parent == 1 || ::getppid() != parent) {
    std::fprintf(stderr, "--exit-with-parent: the parent process has already ended\n");
    return false;
  }
  return true;
}

int issue_token(const TokenOptions& options) {
  // The same rules as the servers' admission.token_key_file.
  auto key = load_key_file(options.key_file);
  auto lifetime = parse_duration(options.expires);
  std::string error = !key ? key.error() : !lifetime ? "--expires: " + lifetime.error() : "";
  if (error.empty() && *lifetime <= Duration::zero()) error = "--expires must be positive";
  if (!error.empty()) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto now_s = static_cast<uint64_t>(std::chrono::floor<std::chrono::seconds>(now).count());
  proto::CapacityToken token;
  token.tier = static_cast<uint8_t>(options.tier);
  token.expiry_unix_s =
      now_s + static_cast<uint64_t>(std::chrono::ceil<std::chrono::seconds>(*lifetime).count());
  token.client_id = options.client_id;
  std::array<uint8_t, proto::kMaxCapacityTokenSize> out{};
  const auto* key_bytes = reinterpret_cast<const uint8_t*>(key->data());
  auto size = proto::issue_capacity_token(token, {key_bytes, key->size()}, now_s, out);
  if (!size) {
    std::fprintf(stderr, "cannot issue the token: %s\n", proto::to_string(size.error()).c_str());
    return 1;
  }
  std::printf("%s\n", proto::base64url_encode(std::span(out).first(*size)).c_str());
  return 0;
}

void add_token_commands(CLI::App& app, TokenOptions& token) {
  CLI::App* group = app.add_subcommand("token", "Capacity tokens");
  group->require_subcommand(1);
  CLI::App* issue = group->add_subcommand(
      "issue", "Print a capacity token (base64url) signed with the token key");
  issue
      ->add_option("--key-file", token.key_file,
                   "File holding the token key (the servers' admission.token_key_file)")
      ->type_name("FILE")
      ->required()
      ->check(CLI::Validator(CLI::ExistingFile).description(""));
  issue->add_option("--tier", token.tier, "Admission tier the token grants")
      ->type_name("N")
      ->required()
      ->check(CLI::Range(1u, 255u).description(""));
  issue->add_option("--expires", token.expires, "Lifetime, e.g. 30m, 24h")
      ->type_name("DURATION")
      ->capture_default_str();
  issue
      ->add_option("--client-id", token.client_id,
                   "Bind the token to this client IP address (default: any client)")
      ->type_name("IP")
      ->check([](const std::string& id) {
        return id.size() <= proto::kMaxClientIdSize ? std::string() : "at most 64 bytes";
      });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("turnscout-server: a balance server that tells clients which TURN server to use");
  app.footer(kExamples);
  app.set_version_flag("--version", std::string("turnscout-server ") + TURNSCOUT_VERSION);
  ServerOptions options;
  bool check_only = false;
  app.add_option("--config", options.config_path, "YAML configuration file")->type_name("FILE");
  app.add_flag("--check-config", check_only, "Validate the configuration, print it, and exit");
  app.add_option("--ready-file", options.ready_file,
                 "Once listening, write the bound addresses here (\"udp ADDR\", \"tcp ADDR\", "
                 "\"tls ADDR\", \"metrics ADDR\")")
      ->type_name("PATH");
  app.add_option("--log-level", options.log_level,
                 "trace, debug, info, warn, error, critical or off; wins over the config's "
                 "log.level, also on reload")
      ->type_name("LEVEL")
      ->check([](const std::string& level) {
        auto parsed = parse_log_level(level);
        return parsed ? std::string() : parsed.error();
      });
  bool with_parent = false;
  app.add_flag("--exit-with-parent", with_parent,
               "Stop (as on SIGTERM) when the process that started this one ends, even if it "
               "is killed; for supervisors and test harnesses (Linux)");
  TokenOptions token;
  add_token_commands(app, token);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (app.got_subcommand("token")) return issue_token(token);
  if (options.config_path.empty()) {
    std::fprintf(stderr, "--config FILE is required (see --help)\n");
    return 2;
  }
  if (check_only) return check_config(options.config_path);
  if (with_parent && !exit_with_parent()) return 1;
  return run_server(options);
}
