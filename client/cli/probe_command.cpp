#include "client/cli/probe_command.hpp"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <tuple>

#include <fmt/format.h>

#include <turnscout/client.hpp>

#include "base/duration.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/result_json.hpp"
#include "client/cli/terminal.hpp"
#include "common/format.hpp"

namespace turnscout::cli {
namespace {

// Set by SIGINT while a probe runs (a lock-free atomic store is async-signal-safe).
std::atomic<bool> g_interrupted{false};

constexpr const char* kExamples = R"(Examples:
  turnscout probe 192.0.2.1:3478
  turnscout probe scout-a.example.org scout-b.example.org:3479 --timeout 1s
  turnscout probe 192.0.2.1:3478 --blacklist name:eu-west-1 --blacklist addr:[2001:db8::7]:3478
  turnscout probe 192.0.2.1:3478 --json --no-verify | jq -r '.services[0].uri'
  turnscout probe 192.0.2.1:3478 --all     # every region's round trip and load
  turnscout probe 192.0.2.1:3478 --transport tcp   # where UDP is known to be blocked

Exit code: 0 when a TURN server was found, 1 when none was (with the reason on stderr),
2 for a bad argument.)";

// How many backups and errors the human report lists; --json has them all.
constexpr size_t kListed = 5;

std::string ms(std::chrono::microseconds d) {
  return fmt::format("{:.3f} ms", static_cast<double>(d.count()) / 1000.0);
}

std::string percent(uint16_t permille) {
  return fmt::format("{:.1f}%", static_cast<double>(permille) / 10.0);
}

// How the hop won its level: the others were slower, not lost ("1/4 answered" read like loss).
std::string race(const Hop& hop) {
  if (hop.speculative) {
    return hop.rtt.count() == 0 ? "probed with the next hop, no answer yet"
                                : "probed with the next hop";
  }
  if (hop.siblings_probed <= 1) return "only one probed";
  std::string text = fmt::format("first of {}", hop.siblings_probed);
  if (hop.siblings_answered > 1) {
    text += fmt::format(", {} more answered", hop.siblings_answered - 1);
  }
  return text;
}

std::string hop_line(const Hop& hop, size_t name_width, size_t address_width, const Style& style) {
  return fmt::format(
      "{:>2}  {}  {:<{}}  {:>10}  subtree load {:>6}  {}{}{}\n", hop.depth + 1,
      style.bold(hop.name) + std::string(name_width - std::min(name_width, hop.name.size()), ' '),
      hop.address.to_string(), address_width, ms(hop.rtt), percent(hop.load_permille), race(hop),
      hop.tier == 0 ? "" : fmt::format(", tier {}", hop.tier),
      hop.transport == "udp" ? "" : fmt::format(", over {} (connection included)", hop.transport));
}

void append_path(std::string& out, const std::vector<Hop>& path, const Style& style) {
  size_t name_width = 0;
  size_t address_width = 0;
  for (const Hop& hop : path) {
    name_width = std::max(name_width, hop.name.size());
    address_width = std::max(address_width, hop.address.to_string().size());
  }
  for (const Hop& hop : path)
    out += hop_line(hop, name_width, address_width, style);
}

// Every server that answered, by depth, fastest first, the ones on the path marked: the
// round trip and load of every region (then of every leaf of the chosen one) with --all.
void append_answers(std::string& out, const DiscoveryResult& r) {
  std::vector<Hop> answers = r.answers;
  std::stable_sort(answers.begin(), answers.end(), [](const Hop& a, const Hop& b) {
    return std::tie(a.depth, a.rtt) < std::tie(b.depth, b.rtt);
  });
  size_t name_width = 0;
  size_t address_width = 0;
  for (const Hop& hop : answers) {
    name_width = std::max(name_width, hop.name.size());
    address_width = std::max(address_width, hop.address.to_string().size());
  }
  out += fmt::format("\nanswered   {} (by depth, fastest first; * on the path)\n",
                     counted(answers.size(), "server"));
  for (const Hop& hop : answers) {
    const bool on_path = std::any_of(r.path.begin(), r.path.end(), [&](const Hop& p) {
      return p.depth == hop.depth && p.address == hop.address;
    });
    out += fmt::format("{:>2}  {:<{}}  {:<{}}  {:>10}  subtree load {:>6}{}\n", hop.depth + 1,
                       hop.name, name_width, hop.address.to_string(), address_width, ms(hop.rtt),
                       percent(hop.load_permille), on_path ? "  *" : "");
  }
}

bool same_path(const std::vector<Hop>& a, const std::vector<Hop>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Hop& x, const Hop& y) {
    return x.depth == y.depth && x.address == y.address;
  });
}

void append_services(std::string& out, const DiscoveryResult& r, const Style& style) {
  const Verification& v = r.verification;
  for (size_t i = 0; i < r.services.size(); ++i) {
    std::string note;
    if (i == 0 && v.state == VerifyState::kVerified) {
      const bool tls = r.services[i].scheme == "turns" || r.services[i].scheme == "stuns";
      note = fmt::format("  (verified: STUN Binding{} answered in {})",
                         tls                                ? " over TLS"
                         : r.services[i].transport == "tcp" ? " over TCP"
                                                            : "",
                         ms(v.rtt));
    } else if (i == 0 && v.state == VerifyState::kNotRequested) {
      note = "  (not verified)";
    } else if (i == 0 && v.state == VerifyState::kUnchecked) {
      note = "  (not verified: no service can be checked by a STUN Binding over UDP, TCP or TLS)";
    }
    if (r.services[i].likely_blocked) note += "  (over UDP, which did not get through to the tree)";
    const bool chosen = i == 0 && v.state == VerifyState::kVerified;
    out += fmt::format("{:<11}{}{}\n", i == 0 ? "TURN" : "",
                       chosen ? style.green(r.services[i].uri) : r.services[i].uri, note);
  }
  const size_t shown = std::min(r.backups.size(), kListed);
  for (size_t i = 0; i < shown; ++i) {
    const Service& b = r.backups[i];
    out += fmt::format("{:<11}{}  ({}, {}{})\n", i == 0 ? "backups" : "", b.uri, b.node_name,
                       ms(b.node_rtt), b.likely_blocked ? ", over UDP: unlikely here" : "");
  }
  if (r.backups.size() > shown) {
    out += fmt::format("{:<11}... and {} more\n", "", r.backups.size() - shown);
  }
  if (!r.reflexive.empty()) out += fmt::format("{:<11}{}\n", "reflexive", r.reflexive.to_string());
}

// Every verification attempt, when there was more than the one that answered.
void append_attempts(std::string& out, const Verification& v) {
  if (v.state == VerifyState::kNotRequested || v.tried.empty()) return;
  if (v.state == VerifyState::kVerified && v.tried.size() == 1) return;
  size_t uri_width = 0;
  for (const VerifyAttempt& a : v.tried)
    uri_width = std::max(uri_width, a.service.size());
  for (size_t i = 0; i < v.tried.size(); ++i) {
    const VerifyAttempt& a = v.tried[i];
    const std::string where = a.address.empty() ? "" : a.address.to_string() + ": ";
    out += fmt::format("{:<11}{:<{}}  {}{}\n", i == 0 ? "verify" : "", a.service, uri_width, where,
                       a.outcome);
  }
}

// A count the user may set within [lo, hi]; the help text names the range.
void add_count(CLI::App* app, const std::string& name, uint32_t& value, const std::string& help,
               uint32_t lo, uint32_t hi) {
  app->add_option(name, value, help)
      ->type_name("N")
      ->check(CLI::Range(lo, hi).description(""))
      ->capture_default_str();
}

void append_errors(std::string& out, const DiscoveryResult& r, const Style& style) {
  const size_t total = r.errors.size() + r.errors_dropped;
  if (total == 0) {
    out += fmt::format("{:<11}none\n", "errors");
    return;
  }
  out += fmt::format("{:<11}{}\n", "errors", style.red(std::to_string(total)));
  const size_t shown = std::min(r.errors.size(), kListed);
  for (size_t i = 0; i < shown; ++i)
    out += fmt::format("  {}\n", to_string(r.errors[i]));
  if (total > shown) out += fmt::format("  ... and {} more (--json lists them)\n", total - shown);
}

}  // namespace

CLI::App* add_probe_command(CLI::App& app, ProbeArgs& args) {
  CLI::App* probe = app.add_subcommand(
      "probe", "Find the nearest TURN server with room, starting from the given roots");
  probe->footer(kExamples);
  probe
      ->add_option("roots", args.roots,
                   "Root balance servers: IP:PORT, [IPv6]:PORT or HOST[:PORT] (port 3478 "
                   "when omitted), all probed at once")
      ->type_name("ROOT")
      ->required();
  probe
      ->add_option("--blacklist", args.blacklist,
                   "Server to avoid: index:N (N-th root), addr:IP:PORT or name:NODE; repeatable")
      ->type_name("TOKEN")
      ->allow_extra_args(false);
  probe
      ->add_option("--timeout", args.timeout,
                   "Overall time limit, e.g. 500ms, 2s (default 2s, 5s with --all); while nothing "
                   "answers the client keeps trying until then")
      ->type_name("DURATION");
  probe->add_flag("--all", args.all,
                  "Survey, like a netcheck: each level waits (up to 1s) for every server it "
                  "probed, and the report lists the round trip and load of each");
  probe->add_flag("--no-verify", args.no_verify,
                  "Skip the STUN Binding that confirms the chosen TURN server answers");
  probe->add_flag("--json", args.json, "Print the whole result as JSON");
  probe
      ->add_option("--selection", args.selection,
                   "Which reply wins a level: first, or load-aware (the first under its "
                   "overload limit)")
      ->type_name("MODE")
      ->check(CLI::IsMember({"first", "load-aware"}).description(""))
      ->capture_default_str();
  probe->add_option("--token", args.token, "Capacity token (base64url) for a higher tier")
      ->type_name("TOKEN");
  add_count(probe, "--attempts", args.attempts,
            "Requests per server in one round, the first included, 1 to 10 (with no answer at "
            "all, rounds repeat until the timeout)",
            1, 10);
  add_count(probe, "--max-probes", args.max_probes,
            "Probe datagrams this discovery may send at most, retransmissions included, 1 to 5120",
            1, 5120);
  add_count(probe, "--max-bindings", args.max_bindings,
            "Verification Bindings this discovery may send at most, over every leaf it checks, "
            "retransmissions included, 1 to 1024",
            1, 1024);
  probe
      ->add_option("--transport", args.transport,
                   "How probes travel: auto (UDP; TCP joins after 250ms without an answer, TLS "
                   "after 250ms more, and the first that answers carries the walk), udp, tcp "
                   "(where UDP is blocked), or tls (on the servers' TCP ports, each certificate "
                   "checked: see --tls-ca)")
      ->type_name("MODE")
      ->check(CLI::IsMember({"auto", "udp", "tcp", "tls"}).description(""))
      ->capture_default_str();
  probe
      ->add_option("--tls-ca", args.tls_ca,
                   "PEM file of the CA certificates that servers' TLS certificates must chain "
                   "to (default: the system's). A root given by host name must be named in its "
                   "certificate; any other server by its IP address. Used by --transport tls "
                   "and to verify turns: services")
      ->type_name("FILE")
      ->check(CLI::Validator(CLI::ExistingFile).description(""));
  probe->add_flag("--tls-insecure", args.tls_insecure,
                  "Accept any TLS certificate (testing only: anyone on the path could then "
                  "read and change the walk)");
  probe->add_flag("--no-speculate", args.no_speculate,
                  "Walk the tree level by level: do not ask servers for their children's "
                  "children, nor probe those with the children (speculative descent saves a "
                  "round trip per two levels)");
  probe->add_flag("--allow-any-scope", args.allow_any_scope,
                  "Follow a server to addresses more private than its own (a public server "
                  "naming private or loopback addresses); special addresses stay refused");
  return probe;
}

std::vector<std::string> unhonoured_token(const std::vector<Hop>& path) {
  std::vector<std::string> out;
  for (const Hop& hop : path) {
    if (hop.tier != 0) continue;
    out.push_back(fmt::format(
        "{} ({}) served the free tier: it did not honour the capacity token (expired, bound to "
        "another address, signed with a key it does not accept, or for a tier it does not have)",
        hop.name, hop.address.to_string()));
  }
  return out;
}

std::string format_hop(const Hop& hop, const Style& style) {
  return hop_line(hop, 12, 21, style);
}

std::string format_report(const DiscoveryResult& r) {
  return format_report(r, {});
}

std::string format_report(const DiscoveryResult& r, const std::vector<Hop>& shown, bool answers,
                          const Style& style) {
  std::string out;
  // A failure that got as far as a leaf (its TURN servers did not answer) shows the path.
  if (r.ok() || !r.path.empty()) {
    if (shown.empty()) {
      append_path(out, r.path, style);
    } else if (!same_path(shown, r.path)) {
      out += "path (the walk backed out of a subtree on the way):\n";
      append_path(out, r.path, style);
    }
    if (r.status != Status::kCancelled) {
      out += '\n';
      append_services(out, r, style);
    }
  }
  if (answers && !r.answers.empty()) append_answers(out, r);
  append_attempts(out, r.verification);
  if (r.ok() || !r.errors.empty() || r.errors_dropped > 0) append_errors(out, r, style);
  if (r.ok()) {
    // How it got there, when not the plain UDP over IPv4 most walks take.
    std::string over;
    if (r.transport != "udp") over = r.transport;
    if (r.family == "ipv6") over += over.empty() ? "IPv6" : ", IPv6";
    const std::string rounds =
        r.round_trips == 0
            ? ""
            : fmt::format(" in {} round trip{}", r.round_trips, r.round_trips == 1 ? "" : "s");
    out += fmt::format("{} {} with {} probe{}{}{}{}\n", style.green("found in"), ms(r.total_time),
                       r.probes_sent, r.probes_sent == 1 ? "" : "s", rounds,
                       r.warm ? " (warm)" : "", over.empty() ? "" : " over " + over);
  } else if (r.status == Status::kCancelled) {
    out += fmt::format("interrupted after {} with {} probe{}\n", ms(r.total_time), r.probes_sent,
                       r.probes_sent == 1 ? "" : "s");
  }
  return out;
}

std::string failure_line(const DiscoveryResult& r) {
  switch (r.status) {
    case Status::kOk:
      return {};
    case Status::kInvalidOptions:
      return r.failure;
    case Status::kNotFound:
      return "no TURN server found: " + r.failure;
    case Status::kInternalError:
      return "internal error: " + r.failure;
    case Status::kCancelled:
      return "interrupted: " + r.failure;
  }
  return r.failure;
}

int exit_code(const DiscoveryResult& r) {
  switch (r.status) {
    case Status::kOk:
      return kExitOk;
    case Status::kInvalidOptions:
      return kExitUsage;
    case Status::kNotFound:
      return kExitFailed;
    case Status::kInternalError:
      return kExitInternal;
    case Status::kCancelled:
      return kExitInterrupted;
  }
  return kExitInternal;
}

int run_probe(const ProbeArgs& args) {
  auto timeout = parse_duration(!args.timeout.empty() ? args.timeout : args.all ? "5s" : "2s");
  if (!timeout) {
    std::fprintf(stderr, "turnscout probe: --timeout: %s\n", timeout.error().c_str());
    return kExitUsage;
  }
  DiscoverOptions options;
  options.roots = args.roots;
  options.blacklist = args.blacklist;
  options.timeout = std::chrono::ceil<std::chrono::milliseconds>(*timeout);
  options.verify = !args.no_verify;
  options.selection = args.selection == "first" ? Selection::kFirst : Selection::kLoadAware;
  options.capacity_token = args.token;
  options.max_attempts = args.attempts;
  options.max_probes = args.max_probes;
  // Room for that many padded probes (1,200 bytes each, plus headroom).
  options.max_probe_bytes = std::max(options.max_probe_bytes, args.max_probes * 1280u);
  options.max_bindings = args.max_bindings;
  options.allow_any_scope = args.allow_any_scope;
  options.transport = args.transport == "tcp"   ? TransportMode::kTcp
                      : args.transport == "udp" ? TransportMode::kUdp
                      : args.transport == "tls" ? TransportMode::kTls
                                                : TransportMode::kAuto;
  options.tls_ca_file = args.tls_ca;
  options.tls_insecure = args.tls_insecure;
  options.speculate = !args.no_speculate;
  if (args.all) {
    // Each level waits up to 1 s (a third of a shorter timeout) for all its servers.
    options.survey = std::min(std::chrono::milliseconds{1000}, options.timeout / 3);
  }
  // Hops are printed as they are won, like traceroute; Ctrl-C ends the walk and prints what
  // it found (exit 130).
  // On a terminal, colour (unless NO_COLOR) and the elapsed time while a level waits.
  const Style style = args.json ? Style{} : Style::for_stream(stdout);
  const Style error_style = args.json ? Style{} : Style::for_stream(stderr);
  StatusLine status(!args.json && is_terminal(stdout));
  std::vector<Hop> shown;
  DiscoverHooks hooks;
  if (!args.json) {
    hooks.on_hop = [&shown, &status, &style](const Hop& hop) {
      status.print(format_hop(hop, style));
      shown.push_back(hop);
    };
  }
  g_interrupted.store(false);
  hooks.stop = &g_interrupted;
  struct sigaction previous {};
  struct sigaction on_sigint {};
  on_sigint.sa_handler = [](int) { g_interrupted.store(true); };
  sigemptyset(&on_sigint.sa_mask);
  // A second Ctrl-C is not swallowed: the default action comes back after the first.
  on_sigint.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &on_sigint, &previous);
  const DiscoveryResult result = discover(options, hooks);
  sigaction(SIGINT, &previous, nullptr);
  status.stop();
  const std::string report =
      args.json ? to_json(result).dump(2) + "\n" : format_report(result, shown, args.all, style);
  std::fputs(report.c_str(), stdout);
  std::fflush(stdout);
  if (!args.token.empty()) {
    for (const std::string& line : unhonoured_token(result.path))
      std::fprintf(stderr, "turnscout: %s %s\n", error_style.yellow("warning:").c_str(),
                   line.c_str());
  }
  if (!result.ok()) {
    std::fprintf(stderr, "turnscout: %s\n", error_style.red(failure_line(result)).c_str());
  }
  return exit_code(result);
}

}  // namespace turnscout::cli
