// The turnscout command against real turnscout-server processes on loopback: it finds a
// leaf (and prints the path like traceroute), --json parses, a killed leaf is avoided, a
// probe with no server fails with a one-line reason within its timeout, and stats and
// --help work.
#include <signal.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/endpoint.hpp"
#include "proto/base64url.hpp"
#include "proto/capacity_token.hpp"
#include "tests/client_io/tree.hpp"
#include "tests/support/certificate.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/udp_client.hpp"
#include "tests/support/wait.hpp"

namespace turnscout::test {
namespace {

constexpr auto kCommandLimit = std::chrono::seconds{20};
// Scheduling slack on a loaded machine (sanitizer builds, tests in parallel).
constexpr auto kMargin = std::chrono::milliseconds{500};

CommandResult turnscout(const TempDir& dir, std::vector<std::string> args) {
  auto result = run_command(cli_binary(), args, dir.file("cli.out"), kCommandLimit);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error()));
  INFO("output:\n" << result->output);
  REQUIRE_FALSE(result->timed_out);
  return *result;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

// `env ARGS...`: a command run with a changed environment.
CommandResult turnscout_env(const TempDir& dir, const std::vector<std::string>& args) {
  const auto env = find_in_path("env");
  REQUIRE(env.has_value());
  auto result = run_command(*env, args, dir.file("terminal.out"), kCommandLimit);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error()));
  INFO("output:\n" << result->output);
  REQUIRE_FALSE(result->timed_out);
  return *result;
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

nlohmann::json probe_json(Tree& t, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"probe", t.root_address(), "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const CommandResult r = turnscout(t.dir, args);
  INFO("output:\n" << r.output);
  REQUIRE(r.status == ExitStatus{true, 0});
  return nlohmann::json::parse(r.output);
}

}  // namespace

TEST_CASE("cli: probe finds a leaf and prints the path, the TURN URI and its verification") {
  Tree t;
  t.start();
  const CommandResult r = turnscout(t.dir, {"probe", t.root_address()});
  INFO("output:\n" << r.output);
  CHECK(r.status == ExitStatus{true, 0});
  const auto lines = lines_of(r.output);
  REQUIRE(lines.size() >= 4);
  CHECK(starts_with(lines[0], " 1  root "));
  CHECK(lines[0].find(to_string(t.root->udp())) != std::string::npos);
  CHECK(lines[0].find("only one probed") != std::string::npos);
  // The region was probed with its leaves (speculative descent): named once it has answered.
  CHECK((starts_with(lines[1], " 2  region ") ||
         lines[1].find("probed with the next hop, no answer yet") != std::string::npos));
  CHECK(lines[1].find("probed with the next hop") != std::string::npos);
  CHECK(starts_with(lines[2], " 3  leaf-"));
  CHECK(lines[2].find("first of 2") != std::string::npos);
  const bool leaf1 = starts_with(lines[2], " 3  leaf-1");
  const ServerProcess& chosen = leaf1 ? *t.leaf1 : *t.leaf2;
  CHECK(lines[2].find(to_string(chosen.udp())) != std::string::npos);
  CHECK(r.output.find("TURN       " + Tree::service_of(chosen) + "  (verified") !=
        std::string::npos);
  CHECK(r.output.find("reflexive  127.0.0.1:") != std::string::npos);
  CHECK(r.output.find("found in ") != std::string::npos);
}

TEST_CASE("cli: probe --all waits for every server of a level and lists each one's round trip") {
  Tree t;
  t.start();
  const nlohmann::json j = probe_json(t, {"--all", "--no-verify"});
  CHECK(j.at("ok") == true);
  std::vector<std::string> names;
  for (const auto& answer : j.at("answers")) {
    names.push_back(answer.at("name"));
    CHECK(answer.at("rtt_us").get<int64_t>() > 0);
  }
  std::sort(names.begin(), names.end());
  // Both leaves, although the first reply could have won the level alone.
  CHECK(names == std::vector<std::string>{"leaf-1", "leaf-2", "region", "root"});
  CHECK(j.at("path").at(2).at("siblings_answered") == 2);

  const CommandResult text = turnscout(t.dir, {"probe", t.root_address(), "--all"});
  CHECK(text.status == ExitStatus{true, 0});
  const auto lines = lines_of(text.output);
  const auto at = std::find(lines.begin(), lines.end(),
                            "answered   4 servers (by depth, fastest first; * on the path)");
  REQUIRE(at != lines.end());
  REQUIRE(lines.end() - at > 4);
  CHECK(starts_with(at[1], " 1  root "));
  CHECK(at[1].ends_with("  *"));
  CHECK(starts_with(at[2], " 2  region "));
  CHECK(starts_with(at[3], " 3  leaf-"));
  CHECK(starts_with(at[4], " 3  leaf-"));
  CHECK(at[3].ends_with("  *") != at[4].ends_with("  *"));  // One leaf is on the path.
  // Without --all, no such list.
  const CommandResult plain = turnscout(t.dir, {"probe", t.root_address()});
  CHECK(plain.output.find("\nanswered   ") == std::string::npos);
}

// Under a pseudo-terminal (util-linux `script`, essential on Debian): colour and a status
// line while a level waits; none of it with NO_COLOR (colour), --json, or into a file.
TEST_CASE("cli: colour and a waiting line on a terminal only") {
  const auto script = find_in_path("script");
  REQUIRE_MESSAGE(script.has_value(), "util-linux script is needed to run under a terminal");
  Tree t;
  t.start();
  auto silent = UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));  // Never answers.
  REQUIRE(silent.ok());
  const std::string silent_root = to_string(silent->local());
  // The runner's own NO_COLOR and TERM (a dumb terminal, an editor's shell) do not count.
  const auto on_terminal = [&](const std::string& args, const std::string& env) {
    std::vector<std::string> command{"-u", "NO_COLOR", "TERM=xterm"};
    if (!env.empty()) command.push_back(env);
    for (const std::string& word :
         {*script, std::string("-qefc"), cli_binary() + " " + args, std::string("/dev/null")}) {
      command.push_back(word);
    }
    return turnscout_env(t.dir, command);
  };
  const std::string bold = "\x1b[1m";
  const std::string green = "\x1b[32m";
  const std::string waiting = "waiting for replies, ";

  const CommandResult coloured = on_terminal("probe " + t.root_address(), "");
  CHECK(coloured.status == ExitStatus{true, 0});
  CHECK(coloured.output.find(bold + "root" + "\x1b[0m") != std::string::npos);
  CHECK(coloured.output.find(green + "found in") != std::string::npos);
  const CommandResult plain = on_terminal("probe " + t.root_address(), "NO_COLOR=1");
  CHECK(plain.status == ExitStatus{true, 0});
  CHECK(plain.output.find(" 1  root ") != std::string::npos);
  CHECK(plain.output.find("\x1b[1m") == std::string::npos);
  CHECK(plain.output.find("\x1b[3") == std::string::npos);
  const CommandResult json = on_terminal("probe --json " + t.root_address(), "");
  CHECK(json.output.find('\x1b') == std::string::npos);
  CHECK(json.output.find(waiting) == std::string::npos);

  // A root that never answers: the waiting line counts up, then is cleared for the report.
  const CommandResult slow = on_terminal("probe --timeout 1s " + silent_root, "NO_COLOR=1");
  const CommandResult dumb = on_terminal("probe --timeout 300ms " + silent_root, "TERM=dumb");
  CHECK(dumb.output.find('\x1b') == std::string::npos);  // No status line either.
  CHECK(dumb.output.find(waiting) == std::string::npos);
  CHECK(slow.status == ExitStatus{true, 1});
  std::vector<double> elapsed;
  for (size_t at = slow.output.find(waiting); at != std::string::npos;
       at = slow.output.find(waiting, at + 1)) {
    elapsed.push_back(std::stod(slow.output.substr(at + waiting.size(), 4)));
  }
  CHECK(elapsed.size() >= 3);  // About one every 100 ms; a loaded machine may skip some.
  CHECK(std::is_sorted(elapsed.begin(), elapsed.end()));
  CHECK((!elapsed.empty() && elapsed.front() >= 0.1 && elapsed.back() >= 0.3));
  const size_t last = slow.output.rfind(waiting);
  CHECK(slow.output.find("\r\x1b[K", last) != std::string::npos);
  // Into a file: none of it.
  const CommandResult file = turnscout(t.dir, {"probe", "--timeout", "1s", silent_root});
  CHECK(file.output.find('\x1b') == std::string::npos);
  CHECK(file.output.find(waiting) == std::string::npos);
}

TEST_CASE("cli: probe --json prints the whole result") {
  Tree t;
  t.start();
  const nlohmann::json j = probe_json(t);
  CHECK(j.at("ok") == true);
  CHECK(j.at("status") == "ok");
  CHECK_FALSE(j.contains("failure"));
  const auto& path = j.at("path");
  REQUIRE(path.size() == 3);
  CHECK(path[0].at("name") == "root");
  CHECK(path[0].at("depth") == 0);
  CHECK(path[0].at("address") == to_string(t.root->udp()));
  CHECK(path[1].at("name") == "region");
  CHECK(path[2].at("depth") == 2);
  CHECK(path[2].at("siblings_probed") == 2);
  CHECK(path[2].at("rtt_us").get<int64_t>() >= 0);
  const std::string leaf = path[2].at("name");
  REQUIRE((leaf == "leaf-1" || leaf == "leaf-2"));
  const ServerProcess& chosen = leaf == "leaf-1" ? *t.leaf1 : *t.leaf2;
  CHECK(path[2].at("address") == to_string(chosen.udp()));
  REQUIRE(j.at("services").size() == 1);
  CHECK(j.at("services")[0].at("uri") == Tree::service_of(chosen));
  CHECK(j.at("services")[0].at("node") == leaf);
  CHECK(j.at("services")[0].at("transport") == "udp");
  CHECK(j.at("verification").at("state") == "verified");
  CHECK(j.at("verification").at("address") == to_string(chosen.udp()));
  CHECK(j.at("reflexive").get<std::string>().starts_with("127.0.0.1:"));
  CHECK(j.at("errors").is_array());
  CHECK(j.at("warm") == false);
  CHECK(j.at("probes_sent").get<int>() >= 3);
  CHECK(j.at("bindings_sent") == 1);  // The chosen leaf's service answered the first one.
  CHECK(j.at("total_time_us").is_number_integer());
  CHECK(j.at("backups").is_array());

  CHECK(j.at("transport") == "udp");
  CHECK(j.at("family") == "ipv4");
  CHECK(path[0].at("transport") == "udp");
  CHECK(j.at("services")[0].at("likely_blocked") == false);

  SUBCASE("--transport tcp: every level over a TCP connection, and the same answer") {
    const nlohmann::json k = probe_json(t, {"--transport", "tcp"});
    CHECK(k.at("ok") == true);
    CHECK(k.at("transport") == "tcp");
    REQUIRE(k.at("path").size() == 3);
    for (const auto& hop : k.at("path"))
      CHECK(hop.at("transport") == "tcp");
    // The leaf's only service is over UDP: first still, but marked, and not checked (a UDP
    // Binding would not pass where UDP is blocked): the leaf's word stands.
    CHECK(k.at("services")[0].at("likely_blocked") == true);
    CHECK(k.at("verification").at("state") == "unchecked");
    CHECK(k.at("bindings_sent") == 0);
  }
  SUBCASE("--no-verify and --selection first") {
    const nlohmann::json k = probe_json(t, {"--no-verify", "--selection", "first"});
    CHECK(k.at("ok") == true);
    CHECK(k.at("verification").at("state") == "not-requested");
  }
}

TEST_CASE("cli: probe --transport tls walks the tree over TLS and checks every certificate") {
  Tree t;
  // Every node on 127.0.0.1 shares one self-signed certificate for that address.
  const auto cert = make_certificate(t.dir.path(), "node", "IP:127.0.0.1");
  REQUIRE_MESSAGE(cert.ok(), (cert.ok() ? "" : cert.error()));
  t.common_yaml = fmt::format("tls: {{cert_file: \"{}\", key_file: \"{}\"}}\n", cert->cert_file,
                              cert->key_file);
  t.start();

  const nlohmann::json j = probe_json(t, {"--transport", "tls", "--tls-ca", cert->cert_file});
  CHECK_MESSAGE(j.at("ok") == true, j.dump());
  CHECK(j.at("transport") == "tls");
  REQUIRE(j.at("path").size() == 3);
  for (const auto& hop : j.at("path"))
    CHECK(hop.at("transport") == "tls");
  CHECK(j.at("services")[0].at("likely_blocked") == true);  // UDP was not used.

  // Without the CA: the root's certificate is refused, at once, and the error says so.
  const CommandResult refused =
      turnscout(t.dir, {"probe", "--json", "--transport", "tls", t.root_address()});
  CHECK(refused.status == ExitStatus{true, 1});
  INFO("output:\n" << refused.output);
  // The JSON document, then the one-line reason on stderr.
  const size_t end = refused.output.find("\n}\n");
  REQUIRE(end != std::string::npos);
  const nlohmann::json r = nlohmann::json::parse(refused.output.substr(0, end + 2));
  REQUIRE(r.at("errors").size() == 1);
  CHECK(r.at("errors")[0].at("kind") == "unreachable");
  const std::string detail = r.at("errors")[0].at("detail");
  CHECK_MESSAGE(detail.find("certificate refused") != std::string::npos, detail);
  CHECK(r.at("total_time_us").get<int64_t>() < 1'000'000);

  // A root given by host name must be named so in its certificate: this one names only
  // 127.0.0.1, so "localhost" is refused although the CA is trusted.
  const std::string by_name = "localhost:" + std::to_string(t.root->udp().port);
  const CommandResult unnamed =
      turnscout(t.dir, {"probe", "--transport", "tls", "--tls-ca", cert->cert_file, by_name});
  CHECK(unnamed.status == ExitStatus{true, 1});
  CHECK_MESSAGE(unnamed.output.find("certificate refused: hostname mismatch") != std::string::npos,
                unnamed.output);

  // Told to accept any certificate: found.
  const nlohmann::json insecure = probe_json(t, {"--transport", "tls", "--tls-insecure"});
  CHECK(insecure.at("ok") == true);
  CHECK(insecure.at("transport") == "tls");

  // A CA file that is not there is a usage error naming it.
  const CommandResult missing = turnscout(t.dir, {"probe", "--transport", "tls", "--tls-ca",
                                                  t.dir.path() + "/none.pem", t.root_address()});
  CHECK(missing.status == ExitStatus{true, 2});
  CHECK(missing.output.find("none.pem") != std::string::npos);
}

TEST_CASE("cli: a killed leaf is avoided") {
  Tree t;
  t.start();
  const nlohmann::json before = probe_json(t);
  const std::string chosen_name = before.at("path")[2].at("name");
  const bool leaf1 = chosen_name == "leaf-1";
  ServerProcess& chosen = leaf1 ? *t.leaf1 : *t.leaf2;
  ServerProcess& other = leaf1 ? *t.leaf2 : *t.leaf1;
  const Endpoint dead = chosen.udp();
  REQUIRE(chosen.process().send_signal(SIGKILL));

  // At once: the dead leaf is still listed but never answers; the other one wins.
  const nlohmann::json now = probe_json(t);
  CHECK(now.at("path")[2].at("address") == to_string(other.udp()));
  CHECK(now.at("services")[0].at("uri") == Tree::service_of(other));

  // After interval × missed the region no longer lists it.
  std::this_thread::sleep_for(kTreeInterval * kTreeMissed + kMargin);
  auto client = UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));
  REQUIRE(client.ok());
  CHECK(wait_until(std::chrono::seconds{5}, std::chrono::milliseconds{20},
                   [&] { return !lists(listed_children(*client, t.region->udp()), dead); }));
  const nlohmann::json later = probe_json(t);
  CHECK(later.at("path")[2].at("address") == to_string(other.udp()));
  CHECK(later.at("path")[2].at("siblings_probed") == 1);
  CHECK(later.at("verification").at("state") == "verified");
  for (const auto& e : later.at("errors"))
    CHECK(e.at("address") != to_string(dead));
}

TEST_CASE("cli: with no server the probe fails within its timeout and says why in one line") {
  TempDir dir{"turnscout-sdk-cli"};
  // A bound socket that never answers: no ICMP either, so only the timeout ends the probe.
  auto silent = UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));
  REQUIRE(silent.ok());
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r =
      turnscout(dir, {"probe", to_string(silent->local()), "--timeout", "500ms"});
  const Duration took = since(start);
  INFO("output:\n" << r.output);
  CHECK(r.status == ExitStatus{true, 1});
  CHECK(took >= std::chrono::milliseconds{500});
  CHECK(took < std::chrono::milliseconds{500} + std::chrono::seconds{3});
  int reason_lines = 0;
  for (const std::string& line : lines_of(r.output)) {
    if (starts_with(line, "turnscout: ")) {
      ++reason_lines;
      CHECK(starts_with(line, "turnscout: no TURN server found: "));
    }
  }
  CHECK(reason_lines == 1);
  CHECK(r.output.find("timeout") != std::string::npos);  // The root's error is listed.
}

// root → region → leaf, the leaf stopped (SIGSTOP) but still listed: its parent hears no
// more heartbeats only after 30 s. The walk answers two levels at once, then waits.
TEST_CASE("cli: hops are printed as they come; Ctrl-C prints what was found and exits 130") {
  TempDir dir{"turnscout-sdk-stream"};
  auto start = [&](NodeOptions o) {
    o.interval = std::chrono::seconds{1};
    o.missed = 30;
    auto server = ServerProcess::start(dir, o);
    REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error()));
    return std::move(*server);
  };
  auto root = start({.name = "root"});
  auto region = start({.name = "region", .parents = {root->udp()}});
  auto leaf = start({.name = "leaf", .parents = {region->udp()}, .leaf = true});
  UdpClient client = [] {
    auto c = UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));
    REQUIRE(c.ok());
    return std::move(*c);
  }();
  REQUIRE(wait_until(std::chrono::seconds{10}, std::chrono::milliseconds{50}, [&] {
    return lists(listed_children(client, root->udp()), region->udp()) &&
           lists(listed_children(client, region->udp()), leaf->udp());
  }));
  REQUIRE(leaf->process().send_signal(SIGSTOP));

  auto probe = ChildProcess::spawn(
      cli_binary(), {"probe", to_string(root->udp()), "--timeout", "10s"}, dir.file("probe.out"));
  REQUIRE_MESSAGE(probe.ok(), (probe.ok() ? "" : probe.error()));
  const auto began = std::chrono::steady_clock::now();
  // Both answered hops are on stdout while the walk still waits for the leaf.
  const bool streamed = wait_until(std::chrono::seconds{3}, std::chrono::milliseconds{10}, [&] {
    return probe->output().find(" 2  region ") != std::string::npos;
  });
  const auto seen_after = std::chrono::steady_clock::now() - began;
  INFO(probe->output());
  REQUIRE(streamed);
  CHECK(probe->output().find(" 1  root ") != std::string::npos);
  CHECK(seen_after < std::chrono::seconds{3});
  CHECK(probe->running());  // Not the end of the discovery: it has 10 s.
  REQUIRE(probe->send_signal(SIGINT));
  const auto status = probe->wait(std::chrono::seconds{2});
  REQUIRE(status.has_value());
  CHECK(*status == ExitStatus{true, 130});
  const std::string out = probe->output();
  CHECK(out.find("interrupted after ") != std::string::npos);
  CHECK(out.find("turnscout: interrupted: stopped by the caller") != std::string::npos);
  // The hops were printed once, as they came, not again at the end.
  CHECK(out.find(" 1  root ") == out.rfind(" 1  root "));
  leaf->process().send_signal(SIGCONT);
}

TEST_CASE("cli: bad arguments exit 2 with a reason") {
  TempDir dir{"turnscout-sdk-cli"};
  CHECK(turnscout(dir, {"probe"}).status == ExitStatus{true, 2});
  CHECK(turnscout(dir, {"probe", "127.0.0.1:1", "--timeout", "soon"}).status ==
        ExitStatus{true, 2});
  CHECK(turnscout(dir, {"probe", "127.0.0.1:1", "--selection", "best"}).status ==
        ExitStatus{true, 2});
  const CommandResult bad_root = turnscout(dir, {"probe", "not a root"});
  CHECK(bad_root.status == ExitStatus{true, 2});
  CHECK(bad_root.output.find("turnscout: root \"not a root\"") != std::string::npos);
  const CommandResult unknown = turnscout(dir, {"nonsense"});
  CHECK(unknown.status == ExitStatus{true, 2});
  CHECK(unknown.output.find("turnscout: unknown command \"nonsense\" (expected one of: probe, "
                            "stats, token, cluster)") != std::string::npos);
}

TEST_CASE("cli: every subcommand has --help with an example") {
  TempDir dir{"turnscout-sdk-cli"};
  for (const auto& args : std::vector<std::vector<std::string>>{{"--help"},
                                                                {"probe", "--help"},
                                                                {"stats", "--help"},
                                                                {"token", "issue", "--help"},
                                                                {"cluster", "--help"}}) {
    const CommandResult r = turnscout(dir, args);
    INFO(r.output);
    CHECK(r.status == ExitStatus{true, 0});
    CHECK(r.output.find("Examples:") != std::string::npos);
    CHECK(r.output.find("turnscout ") != std::string::npos);
    // Every value is named for what it is (DURATION, FILE, N, ...), never by its C++ type.
    for (const char* vague : {" TEXT", ":FILE", "UINT", "FLOAT", "INT:"})
      CHECK_MESSAGE(r.output.find(vague) == std::string::npos, vague);
  }
}

TEST_CASE("cli: stats prints the important metrics of a running server") {
  TempDir dir{"turnscout-sdk-stats"};
  NodeOptions options;
  options.name = "stats-node";
  options.metrics = true;
  auto server = ServerProcess::start(dir, options);
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error()));
  REQUIRE((*server)->metrics().has_value());
  const CommandResult r = turnscout(dir, {"stats", to_string(*(*server)->metrics())});
  INFO("output:\n" << r.output);
  CHECK(r.status == ExitStatus{true, 0});
  CHECK(r.output.find("node         stats-node (turnscout-server ") != std::string::npos);
  CHECK(r.output.find("requests     ") != std::string::npos);
  CHECK(r.output.find("parents      none") != std::string::npos);
  const CommandResult raw = turnscout(dir, {"stats", to_string(*(*server)->metrics()), "--raw"});
  CHECK(raw.output.find("# TYPE turnscout_build_info gauge") != std::string::npos);
  // The UDP port does not speak HTTP: a clear failure, bounded by the timeout.
  const CommandResult wrong =
      turnscout(dir, {"stats", to_string((*server)->udp()), "--timeout", "300ms"});
  CHECK(wrong.status == ExitStatus{true, 1});
  CHECK(wrong.output.find("turnscout stats: " + to_string((*server)->udp()) +
                          " answers STUN over UDP: it is a server's UDP address, not its "
                          "metrics address") != std::string::npos);
}

TEST_CASE("cli: token issue prints a token that verifies with the token key") {
  TempDir dir{"turnscout-sdk-token"};
  const std::string key = dir.write_secret("token.key", std::string(kTestTokenKey) + "\n");
  const CommandResult r =
      turnscout(dir, {"token", "issue", "--key-file", key, "--tier", "2", "--expires", "1h"});
  INFO("output:\n" << r.output);
  CHECK(r.status == ExitStatus{true, 0});
  const std::string token = lines_of(r.output).at(0);
  CHECK(token.size() > 20);
  auto bytes = proto::base64url_decode(token);
  REQUIRE(bytes.ok());
  const std::string_view k = kTestTokenKey;
  const auto now_s = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
  auto verified = proto::verify_capacity_token(
      *bytes, {reinterpret_cast<const uint8_t*>(k.data()), k.size()}, now_s, "198.51.100.23");
  REQUIRE(verified.ok());
  CHECK(verified->tier == 2);
  CHECK(verified->expiry_unix_s > now_s + 3500);
  CHECK(turnscout(dir, {"token", "issue", "--key-file", key, "--tier", "0"}).status ==
        ExitStatus{true, 2});
}

TEST_CASE("cli: probe says which tier each hop served, and warns when a token was not honoured") {
  TempDir dir{"turnscout-sdk-tier"};
  const std::string key = dir.write_secret("token.key", std::string(kTestTokenKey) + "\n");
  NodeOptions node{.name = "tiered", .leaf = true};
  node.extra_tiers = "    gold: {id: 1, burst: 200, refill: 50}\n";
  auto leaf = ServerProcess::start(dir, node);
  REQUIRE_MESSAGE(leaf.ok(), (leaf.ok() ? "" : leaf.error()));
  const std::string address = to_string((*leaf)->udp());
  const auto issue = [&](const std::string& tier) {
    const CommandResult r =
        turnscout(dir, {"token", "issue", "--key-file", key, "--tier", tier, "--expires", "1h"});
    REQUIRE(r.status == ExitStatus{true, 0});
    return lines_of(r.output).at(0);
  };
  const std::vector<std::string> probe{"probe", address, "--no-verify", "--token"};
  const auto with = [&](std::vector<std::string> args, const std::string& token,
                        std::vector<std::string> extra) {
    args.push_back(token);
    args.insert(args.end(), extra.begin(), extra.end());
    return turnscout(dir, args);
  };
  const std::string warning =
      "turnscout: warning: tiered (" + address + ") served the free tier: it did not honour";

  SUBCASE("a token for a tier the server has") {
    const std::string gold = issue("1");
    const CommandResult text = with(probe, gold, {});
    CHECK(text.status == ExitStatus{true, 0});
    CHECK(text.output.find("only one probed, tier 1\n") != std::string::npos);
    CHECK(text.output.find(warning) == std::string::npos);
    const CommandResult json = with(probe, gold, {"--json"});
    REQUIRE(json.status == ExitStatus{true, 0});
    CHECK(nlohmann::json::parse(json.output).at("path").at(0).at("tier") == 1);
  }
  SUBCASE("a token for a tier it does not have, and one signed with another key") {
    const std::string platinum = issue("7");
    const CommandResult r = with(probe, platinum, {});
    CHECK(r.status == ExitStatus{true, 0});
    CHECK(r.output.find(", tier ") == std::string::npos);
    CHECK(r.output.find(warning) != std::string::npos);
    const std::string other_key = dir.write_secret("other.key", "another-token-key-0123456789\n");
    const CommandResult issued = turnscout(
        dir, {"token", "issue", "--key-file", other_key, "--tier", "1", "--expires", "1h"});
    REQUIRE(issued.status == ExitStatus{true, 0});
    const CommandResult forged = with(probe, lines_of(issued.output).at(0), {"--json"});
    REQUIRE(forged.status == ExitStatus{true, 0});
    CHECK(forged.output.find(warning) != std::string::npos);  // On stderr, after the JSON.
    CHECK(nlohmann::json::parse(forged.output.substr(0, forged.output.find(warning)))
              .at("path")
              .at(0)
              .at("tier") == 0);
  }
  SUBCASE("no token, no warning") {
    const CommandResult r = turnscout(dir, {"probe", address, "--no-verify"});
    CHECK(r.status == ExitStatus{true, 0});
    CHECK(r.output.find("warning") == std::string::npos);
  }
}

}  // namespace turnscout::test
