#include "client/cli/token_command.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "client/cli/exit_codes.hpp"
#include "proto/base64url.hpp"
#include "proto/capacity_token.hpp"
#include "proto/constants.hpp"

namespace turnscout::cli {
namespace {

constexpr const char* kExamples = R"ex(Examples:
  turnscout token issue --key-file token.key --tier 1 --expires 24h
  turnscout token issue --key-file token.key --tier 2 --expires 30m --client-id 198.51.100.23
  turnscout probe 192.0.2.1:3478 --token "$(turnscout token issue --key-file token.key --tier 1)"

The key file holds the token key of the servers' `admission.token_key_file` setting
(trailing line breaks are ignored). It is not the cluster key: whoever issues tokens need
not be able to join the tree.)ex";

constexpr size_t kMaxKeyFile = 4096;

// The key as the servers read it: raw bytes, trailing line breaks removed.
Result<std::string, std::string> read_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected(fmt::format("{}: cannot be read", path));
  std::string key;
  key.resize(kMaxKeyFile + 1);
  in.read(key.data(), static_cast<std::streamsize>(key.size()));
  key.resize(static_cast<size_t>(in.gcount()));
  if (key.size() > kMaxKeyFile) {
    return unexpected(fmt::format("{}: larger than {} bytes", path, kMaxKeyFile));
  }
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r'))
    key.pop_back();
  if (key.empty()) return unexpected(fmt::format("{} is empty", path));
  return key;
}

}  // namespace

CLI::App* add_token_command(CLI::App& app, TokenArgs& args) {
  CLI::App* group = app.add_subcommand("token", "Capacity tokens");
  group->footer(kExamples);
  group->require_subcommand(1);
  CLI::App* issue = group->add_subcommand(
      "issue", "Print a capacity token (base64url) signed with the token key");
  issue->footer(kExamples);
  issue
      ->add_option("--key-file", args.key_file,
                   "File holding the token key (the servers' admission.token_key_file)")
      ->type_name("FILE")
      ->required()
      ->check(CLI::Validator(CLI::ExistingFile).description(""));
  issue->add_option("--tier", args.tier, "Admission tier the token grants, 1 to 255")
      ->type_name("N")
      ->required()
      ->check(CLI::Range(1u, 255u).description(""));
  issue->add_option("--expires", args.expires, "Lifetime, e.g. 30m, 24h")
      ->type_name("DURATION")
      ->capture_default_str();
  issue
      ->add_option("--client-id", args.client_id,
                   "Bind the token to this client IP address (default: any client)")
      ->type_name("IP")
      ->check([](const std::string& id) {
        return id.size() <= proto::kMaxClientIdSize ? std::string() : "at most 64 bytes";
      });
  return issue;
}

int run_token_issue(const TokenArgs& args) {
  auto key = read_key(args.key_file);
  auto lifetime = parse_duration(args.expires);
  std::string error = !key ? key.error() : !lifetime ? "--expires: " + lifetime.error() : "";
  if (error.empty() && *lifetime <= Duration::zero()) error = "--expires must be positive";
  if (!error.empty()) {
    std::fprintf(stderr, "turnscout token issue: %s\n", error.c_str());
    return kExitUsage;
  }
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto now_s = static_cast<uint64_t>(std::chrono::floor<std::chrono::seconds>(now).count());
  proto::CapacityToken token;
  token.tier = static_cast<uint8_t>(args.tier);
  token.expiry_unix_s =
      now_s + static_cast<uint64_t>(std::chrono::ceil<std::chrono::seconds>(*lifetime).count());
  token.client_id = args.client_id;
  std::array<uint8_t, proto::kMaxCapacityTokenSize> out{};
  const auto* key_bytes = reinterpret_cast<const uint8_t*>(key->data());
  auto size = proto::issue_capacity_token(token, {key_bytes, key->size()}, now_s, out);
  if (!size) {
    std::fprintf(stderr, "turnscout token issue: cannot issue the token: %s\n",
                 proto::to_string(size.error()).c_str());
    return kExitFailed;
  }
  std::printf("%s\n", proto::base64url_encode(std::span(out).first(*size)).c_str());
  return kExitOk;
}

}  // namespace turnscout::cli
